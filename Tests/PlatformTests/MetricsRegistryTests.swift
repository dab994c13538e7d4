import XCTest
@testable import Platform

final class MetricsRegistryTests: XCTestCase {
    /// A registry with one family of each kind, used by the golden and promtool tests.
    static func sampleRegistry() -> MetricsRegistry {
        let registry = MetricsRegistry()
        let requests = registry.counter(
            "http_requests_total", help: "Requests answered,\nby route and code \\ status.",
            labelNames: ["route", "code"])
        requests.labels("/code", "200").inc(by: 3)
        requests.labels("/code", "404").inc()
        requests.labels("/a\"b\\c\nd", "200").inc()
        registry.gauge("bot_leader", help: "1 while this bot holds the leader lock.").labels().set(1)
        registry.gaugeFunction(
            "http_open_connections", help: "Open client connections.", labelNames: ["listener"]
        ) { [(["public"], 7), (["admin"], 1)] }
        let latency = registry.histogram(
            "request_duration_seconds", help: "Time to answer a request.", labelNames: ["route"],
            buckets: [1, 0.25, 0.01])
        let code = latency.labels("/code")
        code.observe(0.0078125)
        code.observe(0.25)  // on a bound: counted in that bucket (le is inclusive)
        code.observe(0.5)
        code.observe(2)
        return registry
    }

    func testGoldenRender() {
        let expected = #"""
            # HELP bot_leader 1 while this bot holds the leader lock.
            # TYPE bot_leader gauge
            bot_leader 1
            # HELP http_open_connections Open client connections.
            # TYPE http_open_connections gauge
            http_open_connections{listener="admin"} 1
            http_open_connections{listener="public"} 7
            # HELP http_requests_total Requests answered,\nby route and code \\ status.
            # TYPE http_requests_total counter
            http_requests_total{route="/a\"b\\c\nd",code="200"} 1
            http_requests_total{route="/code",code="200"} 3
            http_requests_total{route="/code",code="404"} 1
            # HELP request_duration_seconds Time to answer a request.
            # TYPE request_duration_seconds histogram
            request_duration_seconds_bucket{route="/code",le="0.01"} 1
            request_duration_seconds_bucket{route="/code",le="0.25"} 2
            request_duration_seconds_bucket{route="/code",le="1"} 3
            request_duration_seconds_bucket{route="/code",le="+Inf"} 4
            request_duration_seconds_sum{route="/code"} 2.7578125
            request_duration_seconds_count{route="/code"} 4

            """#
        XCTAssertEqual(Self.sampleRegistry().render(), expected)
    }

    func testEmptyRegistryRendersNothing() {
        XCTAssertEqual(MetricsRegistry().render(), "")
    }

    func testHistogramWithoutBucketsStillHasInf() {
        let registry = MetricsRegistry()
        let histogram = registry.histogram("job_seconds", help: "Job time.", buckets: []).labels()
        histogram.observe(3)
        histogram.observe(.milliseconds(500))
        XCTAssertEqual(registry.render(), """
            # HELP job_seconds Job time.
            # TYPE job_seconds histogram
            job_seconds_bucket{le="+Inf"} 2
            job_seconds_sum 3.5
            job_seconds_count 2

            """)
    }

    func testHistogramBucketsAreCumulativeAndDeduplicated() {
        let registry = MetricsRegistry()
        let family = registry.histogram(
            "size_bytes", help: "Sizes.", buckets: [100, 10, 10, .infinity, 1000])
        XCTAssertEqual(family.buckets, [10, 100, 1000])
        let histogram = family.labels()
        for value in [1.0, 5, 10, 50, 100, 500, 5000, 6000, .nan] { histogram.observe(value) }
        let lines = registry.render().split(separator: "\n").filter { $0.hasPrefix("size_bytes_bucket") }
        XCTAssertEqual(lines, [
            #"size_bytes_bucket{le="10"} 3"#,
            #"size_bytes_bucket{le="100"} 5"#,
            #"size_bytes_bucket{le="1000"} 6"#,
            #"size_bytes_bucket{le="+Inf"} 9"#,
        ])
        XCTAssertEqual(histogram.count, 9)
        XCTAssertTrue(histogram.sum.isNaN)
    }

    func testUnlabeledFamiliesAreExportedAtZeroFromRegistration() {
        let registry = MetricsRegistry()
        _ = registry.counter("started_total", help: "Starts.")
        _ = registry.histogram("wait_seconds", help: "Waits.", buckets: [1])
        _ = registry.counter("labeled_total", help: "Labeled.", labelNames: ["kind"])
        XCTAssertEqual(registry.render(), """
            # HELP labeled_total Labeled.
            # TYPE labeled_total counter
            # HELP started_total Starts.
            # TYPE started_total counter
            started_total 0
            # HELP wait_seconds Waits.
            # TYPE wait_seconds histogram
            wait_seconds_bucket{le="1"} 0
            wait_seconds_bucket{le="+Inf"} 0
            wait_seconds_sum 0
            wait_seconds_count 0

            """)
    }

    func testSameLabelsGiveSameChildSoSeriesCannotBeDuplicated() {
        let registry = MetricsRegistry()
        let family = registry.counter("hits_total", help: "Hits.", labelNames: ["route"])
        let first = family.labels("/code")
        let second = family.labels(["/code"])
        XCTAssertTrue(first === second)
        first.inc()
        second.inc()
        XCTAssertEqual(registry.render(), """
            # HELP hits_total Hits.
            # TYPE hits_total counter
            hits_total{route="/code"} 2

            """)
    }

    func testFunctionReaderDuplicatesKeepFirst() {
        let registry = MetricsRegistry()
        registry.gaugeFunction("queue_depth", help: "Depth.", labelNames: ["queue"]) {
            [(["b"], 2), (["a"], 1), (["b"], 99)]
        }
        XCTAssertEqual(registry.render(), """
            # HELP queue_depth Depth.
            # TYPE queue_depth gauge
            queue_depth{queue="a"} 1
            queue_depth{queue="b"} 2

            """)
    }

    func testFunctionReaderRunsAtRenderTimeAndCanBeReplaced() {
        let registry = MetricsRegistry()
        let source = Counter()
        registry.counterFunction("events_total", help: "Events.") { [([], source.value)] }
        source.inc(by: 4)
        XCTAssertTrue(registry.render().contains("\nevents_total 4\n"))
        registry.counterFunction("events_total", help: "Events.") { [([], 10)] }
        XCTAssertTrue(registry.render().contains("\nevents_total 10\n"))
    }

    func testReRegisteringReturnsExistingFamily() {
        let registry = MetricsRegistry()
        let a = registry.counter("x_total", help: "X.", labelNames: ["k"])
        let b = registry.counter("x_total", help: "X again.", labelNames: ["k"])
        XCTAssertTrue(a === b)
        let h1 = registry.histogram("h_seconds", help: "H.", buckets: [2, 1])
        let h2 = registry.histogram("h_seconds", help: "H.", buckets: [1, 2])
        XCTAssertTrue(h1 === h2)
        let g1 = registry.gauge("g", help: "G.")
        XCTAssertTrue(g1 === registry.gauge("g", help: "G."))
    }

    func testFamiliesAndSeriesAreSorted() {
        let registry = MetricsRegistry()
        let z = registry.gauge("zeta", help: "Z.", labelNames: ["a", "b"])
        z.labels("2", "a").set(1)
        z.labels("10", "b").set(2)
        z.labels("1", "z").set(3)
        z.labels("1", "c").set(4)
        registry.gauge("alpha", help: "A.").labels().set(-2.5)
        registry.gauge("Mid:x", help: "M.").labels().set(.infinity)
        XCTAssertEqual(registry.render(), """
            # HELP Mid:x M.
            # TYPE Mid:x gauge
            Mid:x +Inf
            # HELP alpha A.
            # TYPE alpha gauge
            alpha -2.5
            # HELP zeta Z.
            # TYPE zeta gauge
            zeta{a="1",b="c"} 4
            zeta{a="1",b="z"} 3
            zeta{a="10",b="b"} 2
            zeta{a="2",b="a"} 1

            """)
    }

    func testRemoveStopsExportingASeries() {
        let registry = MetricsRegistry()
        let family = registry.gauge("peers", help: "Peers.", labelNames: ["peer"])
        family.labels("a").set(1)
        let b = family.labels("b")
        b.set(2)
        family.remove("b")
        b.set(3)  // a cached child keeps working, but is no longer exported
        XCTAssertFalse(registry.render().contains("peer=\"b\""))
        XCTAssertTrue(registry.render().contains("peers{peer=\"a\"} 1\n"))
        XCTAssertFalse(family.labels("b") === b)
        XCTAssertTrue(registry.render().contains("peers{peer=\"b\"} 0\n"))
        family.removeAll()
        XCTAssertEqual(registry.render(), "# HELP peers Peers.\n# TYPE peers gauge\n")
    }

    func testCounterAndGaugeArithmetic() {
        let registry = MetricsRegistry()
        let counter = registry.counter("c_total", help: "C.").labels()
        counter.inc()
        counter.inc(by: 2)
        counter.inc(by: 0.5)
        counter.inc(by: 0.25)
        XCTAssertEqual(counter.value, 3.75)
        let gauge = registry.gauge("g", help: "G.").labels()
        gauge.inc()
        gauge.inc(by: 5)
        gauge.dec(by: 1.5)
        gauge.dec()
        XCTAssertEqual(gauge.value, 3.5)
        gauge.set(-7)
        XCTAssertEqual(gauge.value, -7)
        XCTAssertTrue(registry.render().contains("\nc_total 3.75\n"))
    }

    func testNumberFormatting() {
        XCTAssertEqual(PrometheusText.format(0), "0")
        XCTAssertEqual(PrometheusText.format(-0.0), "0")
        XCTAssertEqual(PrometheusText.format(42), "42")
        XCTAssertEqual(PrometheusText.format(-3), "-3")
        XCTAssertEqual(PrometheusText.format(0.1), "0.1")
        XCTAssertEqual(PrometheusText.format(0.00001), "1e-05")
        XCTAssertEqual(PrometheusText.format(1e20), "1e+20")
        XCTAssertEqual(PrometheusText.format(.infinity), "+Inf")
        XCTAssertEqual(PrometheusText.format(-.infinity), "-Inf")
        XCTAssertEqual(PrometheusText.format(.nan), "NaN")
    }

    func testEscaping() {
        XCTAssertEqual(PrometheusText.escapeLabelValue(#"a\b"c"# + "\nd"), #"a\\b\"c\nd"#)
        XCTAssertEqual(PrometheusText.escapeHelp(#"say "hi"\"# + "\n"), #"say "hi"\\\n"#)
        XCTAssertEqual(PrometheusText.escapeLabelValue("plain ü"), "plain ü")
    }

    func testNameValidation() {
        for good in ["a", "_x", "http_requests_total", "ns:sub:metric", "A9"] {
            XCTAssertTrue(PrometheusText.isValidMetricName(good), good)
        }
        for bad in ["", "9a", "a-b", "a b", "é", "a.b"] {
            XCTAssertFalse(PrometheusText.isValidMetricName(bad), bad)
        }
        for good in ["a", "_x", "route", "A_9"] {
            XCTAssertTrue(PrometheusText.isValidLabelName(good), good)
        }
        for bad in ["", "9a", "a:b", "__name__", "a-b"] {
            XCTAssertFalse(PrometheusText.isValidLabelName(bad), bad)
        }
    }

    func testBucketHelpers() {
        XCTAssertEqual(MetricsRegistry.exponentialBuckets(start: 0.001, factor: 10, count: 3).count, 3)
        XCTAssertEqual(MetricsRegistry.exponentialBuckets(start: 1, factor: 2, count: 4), [1, 2, 4, 8])
        XCTAssertEqual(MetricsRegistry.defaultBuckets.first, 0.005)
    }
}
