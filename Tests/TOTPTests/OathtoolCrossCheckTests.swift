import Foundation
import XCTest
@testable import TOTP
@testable import Crypto

/// Cross-checks our TOTP against a real, independent implementation: `oathtool` (Debian package
/// `oathtool`). 10,000 independent random tuples, each its own oathtool run: a fresh seed of 1 to
/// 200 bytes (so keys longer than the 64-byte SHA1/SHA256 and 128-byte SHA512 HMAC blocks, which
/// HMAC hashes first, are covered), SHA1/SHA256/SHA512, 6-8 digits, a period of 1-3600 s and a
/// time up to 2^35 s (well past 2^32). oathtool's `--window=1` prints the tuple's code and the
/// next step's, which checks `totp(includeNext:)` too: 20,000 codes.
///
/// oathtool takes one key per run, so the runs are spread over a small, bounded pool of shells
/// (one script each; spawning 10,000 processes from Foundation's `Process` is far slower).
final class OathtoolCrossCheckTests: XCTestCase {
    static let oathtool = "/usr/bin/oathtool"
    static let tupleCount = 10_000

    /// One independent case: a seed, its parameters and a time, as one oathtool command line.
    struct Tuple {
        let seed: [UInt8]
        let parameters: TOTPParameters
        let time: Int64

        var command: String {
            "\(OathtoolCrossCheckTests.oathtool) --totp=\(parameters.algorithm.name.lowercased()) --digits=\(parameters.digits) --time-step-size=\(parameters.period)s --now=@\(time) --window=1 \(Crypto.hex(seed))"
        }
    }

    func testTenThousandIndependentRandomTuplesAgreeWithOathtool() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.oathtool) else {
            XCTFail("oathtool is missing: run scripts/bootstrap (apt package oathtool)")
            return
        }
        let tuples = try Self.randomTuples(Self.tupleCount)
        // The machine is shared: at most 4 oathtool runs at a time, at least 2.
        let pool = min(4, max(2, ProcessInfo.processInfo.activeProcessorCount))
        let shares = (0..<pool).map { k in Array(stride(from: k, to: tuples.count, by: pool)) }
        let outputs = try Self.runConcurrently(shares.map { share in
            "set -e\n" + share.map { tuples[$0].command }.joined(separator: "\n") + "\n"
        })

        var theirs = [[Substring]](repeating: [], count: tuples.count)
        for (share, output) in zip(shares, outputs) {
            let lines = output.split(separator: "\n")
            XCTAssertEqual(lines.count, 2 * share.count, "two codes per oathtool run")
            for (j, index) in share.enumerated() where 2 * j + 1 < lines.count {
                theirs[index] = [lines[2 * j], lines[2 * j + 1]]
            }
        }
        var compared = 0
        var mismatches: [String] = []
        for (tuple, codes) in zip(tuples, theirs) where codes.count == 2 {
            let p = tuple.parameters
            let ours = OTP.totp(secret: tuple.seed, parameters: p, at: tuple.time, includeNext: true)
            let viaHOTP = OTP.hotp(secret: tuple.seed, counter: OTP.step(at: tuple.time, period: p.period), digits: p.digits, algorithm: p.algorithm)
            if ours.code != codes[0] || ours.nextCode != String(codes[1]) || viaHOTP != codes[0] {
                mismatches.append("\(p) t=\(tuple.time) seed=\(tuple.seed.count) bytes")
            }
            compared += 1
        }
        print("oathtool cross-check: \(compared) tuples, \(mismatches.count) mismatches (\(2 * compared) codes, seeds 1-200 bytes, \(pool) oathtool runs at a time)")
        XCTAssertEqual(compared, Self.tupleCount)
        XCTAssertEqual(mismatches, [])
    }

    /// Random tuples; the first ones pin the seed lengths and times where bugs hide (HMAC block
    /// sizes and their neighbours, 2^31 and 2^32 seconds), the rest are uniform.
    static func randomTuples(_ count: Int) throws -> [Tuple] {
        var rng = SystemRandomNumberGenerator()
        let edgeLengths = [1, 2, 19, 20, 21, 32, 33, 63, 64, 65, 127, 128, 129, 199, 200]
        let edgeTimes: [Int64] = [0, 1, (1 << 31) - 1, 1 << 31, (1 << 32) - 1, 1 << 32, (1 << 32) + 1, 1 << 35]
        var tuples: [Tuple] = []
        tuples.reserveCapacity(count)
        for i in 0..<count {
            let length = i < edgeLengths.count * 3 ? edgeLengths[i / 3] : Int.random(in: 1...200, using: &rng)
            let algorithm = i < edgeLengths.count * 3 ? HashAlgorithm.allCases[i % 3] : HashAlgorithm.allCases.randomElement(using: &rng)!
            let seed = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let period = Int.random(in: 0..<4, using: &rng) == 0 ? [1, 30, 60, 3600].randomElement(using: &rng)! : Int.random(in: 1...3600, using: &rng)
            let time = i < edgeTimes.count ? edgeTimes[i] : Int64.random(in: 0...(1 << 35), using: &rng)
            tuples.append(Tuple(seed: seed, parameters: try TOTPParameters(algorithm: algorithm, digits: Int.random(in: 6...8, using: &rng), period: period),
                time: time))
        }
        return tuples
    }

    /// Runs each script in its own `/bin/sh` at the same time and returns their outputs in order.
    /// Scripts go through files: one is far longer than a single argument may be (128 KiB).
    private static func runConcurrently(_ scripts: [String]) throws -> [String] {
        let dir = NSTemporaryDirectory() + "oathtool-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let processes = try scripts.enumerated().map { (i, script) -> (Process, Pipe) in
            let path = dir + "/share-\(i).sh"
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = [path]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            return (process, pipe)
        }
        nonisolated(unsafe) var outputs = [Data](repeating: Data(), count: scripts.count)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: processes.count) { i in
            let data = processes[i].1.fileHandleForReading.readDataToEndOfFile()
            lock.withLock { outputs[i] = data }
        }
        for (process, _) in processes {
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, "oathtool failed")
        }
        return outputs.map { String(decoding: $0, as: UTF8.self) }
    }
}
