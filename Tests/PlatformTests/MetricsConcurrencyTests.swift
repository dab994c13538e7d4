import Dispatch
import XCTest
@testable import Platform

final class MetricsConcurrencyTests: XCTestCase {
    func testConcurrentUpdatesGiveExactTotals() {
        let registry = MetricsRegistry()
        let counters = registry.counter("ops_total", help: "Ops.", labelNames: ["worker"])
        let shared = counters.labels("shared")
        let gauge = registry.gauge("level", help: "Level.").labels()
        let histogram = registry.histogram("op_seconds", help: "Op time.", buckets: [0.5]).labels()
        let threads = 4
        let iterations = 20_000

        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            // Every thread also looks the child up itself: creation races must yield one child.
            let own = counters.labels("shared")
            for i in 0..<iterations {
                if i % 2 == 0 { shared.inc() } else { own.inc() }
                gauge.inc(by: 2)
                gauge.dec()
                if i % 10 == 0 {
                    histogram.observe(i % 20 == 0 ? 0.25 : 1)
                    shared.inc(by: 0.5)
                }
            }
            counters.labels(String(worker)).inc()
        }

        let total = Double(threads * iterations)
        XCTAssertEqual(shared.value, total + Double(threads * iterations / 10) * 0.5)
        XCTAssertEqual(gauge.value, total)
        XCTAssertEqual(histogram.count, UInt64(threads * iterations / 10))
        let text = registry.render()
        XCTAssertTrue(text.contains("op_seconds_bucket{le=\"0.5\"} \(threads * iterations / 20)\n"), text)
        XCTAssertTrue(text.contains("op_seconds_bucket{le=\"+Inf\"} \(threads * iterations / 10)\n"), text)
        let series = text.split(separator: "\n").filter { $0.hasPrefix("ops_total{") }
        XCTAssertEqual(series.count, threads + 1)
    }

    func testRenderWhileUpdatingStaysWellFormed() {
        let registry = MetricsRegistry()
        let family = registry.counter("churn_total", help: "Churn.", labelNames: ["id"])
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            for i in 0..<2_000 {
                family.labels(String(i % 50)).inc()
                if i % 100 == 0 { family.remove(String(i % 50)) }
            }
            done.signal()
        }
        for _ in 0..<50 {
            let text = registry.render()
            XCTAssertTrue(text.hasPrefix("# HELP churn_total Churn.\n# TYPE churn_total counter\n"))
            XCTAssertTrue(text.hasSuffix("\n"))
        }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
    }
}
