import XCTest
@testable import Shared

final class LoggerTests: XCTestCase {
    func testLineIsOneSortedJSONObject() {
        let sink = LogSink.memory()
        let log = Logger(component: "test", sink: sink, now: { (1_764_064_800, 123_000_000) })
        log.info("started", ["zeta": 1, "alpha": "a\"b", "ok": true])
        XCTAssertEqual(sink.captured, [
            #"{"time":"2025-11-25T10:00:00.123Z","level":"info","event":"started","component":"test","alpha":"a\"b","ok":true,"zeta":1}"#
        ])
    }

    func testLevelCheckedBeforeFieldsAreBuilt() {
        let sink = LogSink.memory()
        let log = Logger(component: "test", minimumLevel: .warning, sink: sink)
        var built = false
        func fields() -> [String: LogValue] { built = true; return [:] }
        log.info("ignored", fields())
        XCTAssertFalse(built)
        XCTAssertTrue(sink.captured.isEmpty)
        log.error("kept", fields())
        XCTAssertTrue(built)
        XCTAssertEqual(sink.captured.count, 1)
    }

    func testControlCharactersEscaped() {
        XCTAssertEqual(JSONText.quoted("a\nb\u{1}"), #""a\nb\u0001""#)
    }
}

final class JSONTextTests: XCTestCase {
    func testFastAndSlowPathsAgree() {
        let cases = ["plain", "ünïcödé ok", "quote\"", "back\\slash", "line\nbreak", "tab\t", "nul\u{0}", "del\u{7F}",
            "sep\u{2028}", "para\u{2029}", "arrow\u{2192}", ""]
        let expected = ["\"plain\"", "\"ünïcödé ok\"", "\"quote\\\"\"", "\"back\\\\slash\"", "\"line\\nbreak\"", "\"tab\\t\"",
            "\"nul\\u0000\"", "\"del\\u007f\"", "\"sep\\u2028\"", "\"para\\u2029\"", "\"arrow\u{2192}\"", "\"\""]
        for (c, e) in zip(cases, expected) {
            XCTAssertEqual(JSONText.quoted(c), e, c)
            var bytes: [UInt8] = []
            JSONText.appendString(c, to: &bytes)
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), e, c)
        }
    }
}
