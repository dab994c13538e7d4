import XCTest
@testable import Platform

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

final class UTCTimestampTests: XCTestCase {
    func testKnownInstants() {
        XCTAssertEqual(UTCTimestamp.string(seconds: 0, nanoseconds: 0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(UTCTimestamp.string(seconds: 1_764_064_800, nanoseconds: 5_000_000), "2025-11-25T10:00:00.005Z")
        XCTAssertEqual(UTCTimestamp.string(seconds: 951_782_400, nanoseconds: 999_999_999), "2000-02-29T00:00:00.999Z")  // leap day
        XCTAssertEqual(UTCTimestamp.string(seconds: 4_102_444_799, nanoseconds: 0), "2099-12-31T23:59:59.000Z")
        XCTAssertEqual(UTCTimestamp.string(seconds: 253_402_300_799, nanoseconds: 0), "9999-12-31T23:59:59.000Z")
    }

    func testYearsOutsideFourDigitsAndTheExtremesOfInt64() {
        XCTAssertEqual(UTCTimestamp.string(seconds: 253_402_300_800, nanoseconds: 0), "10000-01-01T00:00:00.000Z")
        XCTAssertEqual(UTCTimestamp.string(seconds: -62_135_596_800, nanoseconds: 0), "0001-01-01T00:00:00.000Z")
        XCTAssertEqual(UTCTimestamp.string(seconds: -62_167_219_201, nanoseconds: 0), "-1-12-31T23:59:59.000Z")
        // The extremes (a day inside Int64.min, so the day arithmetic does not overflow).
        for seconds in [Int64.max, Int64.min + 86_400] {
            let text = UTCTimestamp.string(seconds: seconds, nanoseconds: 999_999_999)
            XCTAssertLessThanOrEqual(text.utf8.count, UTCTimestamp.maxLength, text)
            XCTAssertTrue(text.hasSuffix(".999Z"), text)
        }
        XCTAssertEqual(UTCTimestamp.string(seconds: Int64.min + 86_400, nanoseconds: 0).utf8.count, UTCTimestamp.maxLength, "the bound is tight")
    }

    func testAgreesWithGmtimeOnRandomInstants() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let seconds = Int64.random(in: 0...8_000_000_000, using: &generator)
            let nanoseconds = Int64.random(in: 0..<1_000_000_000, using: &generator)
            var t = time_t(seconds)
            var tmv = tm()
            gmtime_r(&t, &tmv)
            let expected = String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tmv.tm_year + 1900, tmv.tm_mon + 1, tmv.tm_mday,
                tmv.tm_hour, tmv.tm_min, tmv.tm_sec, Int32(nanoseconds / 1_000_000))
            XCTAssertEqual(UTCTimestamp.string(seconds: seconds, nanoseconds: nanoseconds), expected, "\(seconds)")
        }
    }
}
