import Foundation
import XCTest
@testable import Platform
import TextSupport

/// Runs the real `promtool check metrics` (Debian package `prometheus`) on our output: it
/// catches parse errors and lint problems (counter without `_total`, abbreviated units).
final class MetricsPromtoolTests: XCTestCase {
    static let promtool = "/usr/bin/promtool"

    /// Feeds `text` to `promtool check metrics` on stdin; returns exit status and output.
    func promtoolCheck(_ text: String) throws -> (status: Int32, output: String) {
        guard FileManager.default.isExecutableFile(atPath: Self.promtool) else {
            XCTFail("\(Self.promtool) not found: run scripts/bootstrap (installs the Debian package `prometheus`)")
            return (-1, "")
        }
        let input = FileManager.default.temporaryDirectory
            .appendingPathComponent("metrics-\(getpid())-\(UUID().uuidString).txt")
        try Data(text.utf8).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        let outputFile = input.appendingPathExtension("out")
        XCTAssertTrue(FileManager.default.createFile(atPath: outputFile.path, contents: nil))
        defer { try? FileManager.default.removeItem(at: outputFile) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.promtool)
        process.arguments = ["check", "metrics"]
        process.standardInput = try FileHandle(forReadingFrom: input)
        let output = try FileHandle(forWritingTo: outputFile)
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            XCTFail("promtool did not finish within 60 s")
        }
        try output.close()
        let printed = String(decoding: try Data(contentsOf: outputFile), as: UTF8.self)
        return (process.terminationStatus, printed)
    }

    func testRenderedOutputPassesPromtool() throws {
        let registry = MetricsRegistryTests.sampleRegistry()
        ProcessMetrics.register(in: registry)
        ClockMetrics.register(in: registry)  // the real adjtimex reading
        let text = registry.render()
        let (status, output) = try promtoolCheck(text)
        XCTAssertEqual(status, 0, "promtool check metrics failed:\n\(output)\non:\n\(text)")
        XCTAssertEqual(output.trimmingCharacters(in: .whitespacesAndNewlines), "", output)
    }

    /// Proves the check is real: promtool must reject a counter without `_total`.
    func testPromtoolRejectsLintProblems() throws {
        let registry = MetricsRegistry()
        registry.counter("requests", help: "Requests.").labels().inc()
        let (status, output) = try promtoolCheck(registry.render())
        XCTAssertNotEqual(status, 0, output)
    }
}
