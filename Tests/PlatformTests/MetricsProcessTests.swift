import Glibc
import XCTest
@testable import Platform

final class MetricsProcessTests: XCTestCase {
    /// Value of an unlabeled sample in exposition text.
    static func sample(_ name: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1))
        }
        return nil
    }

    func testProcessMetricsArePlausible() throws {
        // CPU time is counted in 10 ms ticks: a short test process may still read 0, so burn a
        // bounded amount of CPU (at most 200 rounds, at most 3 s) until one tick is counted.
        let deadline = time(nil) + 3
        var sink = 0.0
        for round in 0..<200 where (ProcessStats.cpuSeconds() ?? 0) == 0 && time(nil) < deadline {
            for i in 0..<100_000 { sink += Double(i &+ round).squareRoot() }
        }
        XCTAssertGreaterThan(sink, -1)
        let registry = MetricsRegistry()
        ProcessMetrics.register(in: registry)
        let text = registry.render()
        for name in ["process_cpu_seconds_total", "process_max_fds", "process_open_fds",
                     "process_resident_memory_bytes", "process_start_time_seconds",
                     "process_virtual_memory_bytes"] {
            XCTAssertTrue(text.contains("# TYPE \(name) "), "missing \(name) in\n\(text)")
        }
        let rss = try XCTUnwrap(Self.sample("process_resident_memory_bytes", in: text))
        XCTAssertGreaterThan(rss, 1_048_576)
        let virtual = try XCTUnwrap(Self.sample("process_virtual_memory_bytes", in: text))
        XCTAssertGreaterThanOrEqual(virtual, rss)
        let openFDs = try XCTUnwrap(Self.sample("process_open_fds", in: text))
        XCTAssertGreaterThan(openFDs, 0)
        let maxFDs = try XCTUnwrap(Self.sample("process_max_fds", in: text))
        XCTAssertGreaterThanOrEqual(maxFDs, openFDs)
        let cpu = try XCTUnwrap(Self.sample("process_cpu_seconds_total", in: text))
        XCTAssertGreaterThan(cpu, 0)
        let start = try XCTUnwrap(Self.sample("process_start_time_seconds", in: text))
        let now = Double(time(nil))
        XCTAssertLessThanOrEqual(start, now + 1)
        XCTAssertGreaterThan(start, now - 3600, "start time should be within the last hour")
    }

    func testOpenFDCountFollowsOpenDescriptors() throws {
        let before = try XCTUnwrap(ProcessStats.openFileDescriptors())
        let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(fd, 0)
        let during = try XCTUnwrap(ProcessStats.openFileDescriptors())
        close(fd)
        // Other test threads may open descriptors too, so only the direction is certain.
        XCTAssertGreaterThanOrEqual(during, before + 1)
    }

    func testParseStatWithAwkwardCommandName() {
        // Fields after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt
        // cmajflt utime(14) stime(15) cutime cstime priority nice threads itreal starttime(22) ...
        let line = "1234 (a) b (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 4 0 987654 12345678 300 18446744073709551615\n"
        XCTAssertEqual(
            ProcessStats.parseStat(line),
            ProcessStats.Stat(userTicks: 250, systemTicks: 75, startTicks: 987654))
        XCTAssertNil(ProcessStats.parseStat("1234 (truncated) S 1 2"))
        XCTAssertNil(ProcessStats.parseStat("no parenthesis"))
    }

    func testParseBootTime() {
        let text = "cpu  1 2 3 4\ncpu0 1 2 3 4\nintr 5\nctxt 99\nbtime 1764064800\nprocesses 10\n"
        XCTAssertEqual(ProcessStats.parseBootTime(text), 1_764_064_800)
        XCTAssertNil(ProcessStats.parseBootTime("cpu 1 2\n"))
    }
}
