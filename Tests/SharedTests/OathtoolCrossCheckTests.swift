import Foundation
import XCTest
@testable import Shared

/// Cross-checks our TOTP against a real, independent implementation: `oathtool` (Debian package
/// `oathtool`). 500 random (seed, algorithm, digits, period, start time) tuples, 20 consecutive
/// steps each: 10,000 codes compared. All oathtool runs go through one shell script, because
/// spawning 500 processes from Foundation's `Process` is far slower than oathtool itself.
final class OathtoolCrossCheckTests: XCTestCase {
    static let oathtool = "/usr/bin/oathtool"

    struct Tuple {
        let seed: [UInt8]
        let parameters: TOTPParameters
        let time: Int64
    }

    func testTenThousandRandomTuplesAgreeWithOathtool() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.oathtool) else {
            XCTFail("oathtool is missing: run scripts/bootstrap (apt package oathtool)")
            return
        }
        let window = 19  // oathtool prints window+1 codes, for consecutive steps
        var rng = SystemRandomNumberGenerator()
        var tuples: [Tuple] = []
        var script = "set -e\n"
        for _ in 0..<500 {
            let algorithm = HashAlgorithm.allCases.randomElement(using: &rng)!
            let seed = (0..<Int.random(in: 10...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let digits = Int.random(in: 6...8, using: &rng)
            let period = [1, 15, 30, 60, 90, 3600, Int.random(in: 1...3600, using: &rng)].randomElement(using: &rng)!
            let time = Int64.random(in: 0...(1 << 35), using: &rng)  // well past 2^32 s
            tuples.append(Tuple(seed: seed, parameters: try TOTPParameters(algorithm: algorithm, digits: digits, period: period), time: time))
            script += "\(Self.oathtool) --totp=\(algorithm.name.lowercased()) --digits=\(digits) --time-step-size=\(period)s --now=@\(time) --window=\(window) \(Crypto.hex(seed))\necho --\n"
        }
        let output = try Self.runShell(script)
        let blocks = output.components(separatedBy: "--\n").dropLast()
        XCTAssertEqual(blocks.count, tuples.count, "one block of codes per oathtool run")

        var compared = 0
        var mismatches: [String] = []
        for (tuple, block) in zip(tuples, blocks) {
            let theirs = block.split(separator: "\n").map(String.init)
            XCTAssertEqual(theirs.count, window + 1)
            let p = tuple.parameters
            let step = OTP.step(at: tuple.time, period: p.period)
            for (k, code) in theirs.enumerated() {
                let ours = OTP.hotp(secret: tuple.seed, counter: step + UInt64(k), digits: p.digits, algorithm: p.algorithm)
                if ours != code { mismatches.append("\(p) t=\(tuple.time) step+\(k)") }
                compared += 1
            }
            // The TOTP entry point (with its own step arithmetic) must agree too.
            let viaTOTP = OTP.totp(secret: tuple.seed, parameters: p, at: tuple.time, includeNext: true)
            if viaTOTP.code != theirs.first || viaTOTP.nextCode != theirs.dropFirst().first {
                mismatches.append("totp() differs: \(p) t=\(tuple.time)")
            }
        }
        print("oathtool cross-check: \(compared) codes compared, \(mismatches.count) mismatches")
        XCTAssertEqual(compared, 10_000)
        XCTAssertEqual(mismatches, [])
    }

    private static func runShell(_ script: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "oathtool failed")
        return String(decoding: data, as: UTF8.self)
    }
}
