import Foundation
import XCTest

@testable import Platform

final class ByteWriterTests: XCTestCase {
    func testWritesEveryKindOfValue() {
        let bytes = [UInt8](expectedCount: 256) { w in
            w.write(static: "a=")
            w.write(decimal: 0)
            w.write(byte: UInt8(ascii: ","))
            w.write(decimal: -42)
            w.write(byte: UInt8(ascii: ","))
            w.write(decimal: Int.max)
            w.write(byte: UInt8(ascii: ","))
            w.write(decimal: Int.min)
            w.write(byte: UInt8(ascii: ","))
            w.write(decimal: Int64(1_795_603_050))
            w.write(byte: UInt8(ascii: ","))
            w.write(utf8: "héllo")
            w.write(bytes: [0x21])
        }
        XCTAssertEqual(
            String(decoding: bytes, as: UTF8.self),
            "a=0,-42,9223372036854775807,-9223372036854775808,1795603050,héllo!")
    }

    func testJSONStringsAreEscapedLikeJSONText() {
        for value in ["plain", "quote\"back\\slash", "new\nline\t", "\u{01}\u{7F}", "line\u{2028}sep", "", "ünïcödé"] {
            let written = [UInt8](expectedCount: JSONText.maxQuotedCount(value)) { $0.write(jsonString: value) }
            XCTAssertEqual(String(decoding: written, as: UTF8.self), JSONText.quoted(value), value)
            // And the result is valid JSON that decodes back to the value.
            let decoded = try? JSONSerialization.jsonObject(with: Data(("[" + JSONText.quoted(value) + "]").utf8)) as? [String]
            XCTAssertEqual(decoded, [value])
        }
    }

    func testAppendKeepsWhatWasThere() {
        var out = Array("head:".utf8)
        out.append(expectedCount: 8) { w in w.write(static: "tail") }
        out.append(static: "|")
        out.append(utf8: "x")
        out.append(decimal: -7)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "head:tail|x-7")
    }

    func testWritesPastTheExpectedCountGrowInsteadOfTrapping() {
        // Every kind of write, each one past the end of a 4-byte buffer.
        let long = String(repeating: "é", count: 300)
        let bytes = [UInt8](expectedCount: 4) { w in
            w.write(static: "hello, ")
            w.write(decimal: Int.min)
            w.write(byte: UInt8(ascii: " "))
            w.write(jsonString: "quote\" and \(long)")
            w.write(bytes: [UInt8](repeating: 0x2E, count: 1000))
            w.write(utf8: long)
            XCTAssertTrue(w.didGrow)
        }
        XCTAssertEqual(
            String(decoding: bytes, as: UTF8.self),
            "hello, -9223372036854775808 " + JSONText.quoted("quote\" and \(long)") + String(repeating: ".", count: 1000) + long)
    }

    func testAnEmptyBufferGrowsToo() {
        XCTAssertEqual([UInt8](expectedCount: 0) { $0.write(decimal: 12_345) }, Array("12345".utf8))
        var out = Array("kept:".utf8)
        out.append(expectedCount: 0) { $0.write(static: "appended") }
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "kept:appended")
    }

    func testGrowingManyTimesKeepsEveryByteInOrder() {
        let count = ByteWriter.withBytes(expectedCount: 8, { w in
            for i in 0..<100_000 { w.write(byte: UInt8(truncatingIfNeeded: i)) }
        }) { bytes -> Int in
            XCTAssertTrue(bytes.enumerated().allSatisfy { $0.element == UInt8(truncatingIfNeeded: $0.offset) })
            return bytes.count
        }
        XCTAssertEqual(count, 100_000)
    }

    func testADecimalAtTheEdgeOfTheBufferGrows() {
        let bytes = [UInt8](expectedCount: 5) { w in
            w.write(static: "ab")
            w.write(decimal: -123_456_789)
        }
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "ab-123456789")
    }

    func testAnExactBoundIsEnough() {
        let bytes = [UInt8](expectedCount: 11) { w in
            w.write(static: "ab")
            w.write(decimal: 123_456_789)
            XCTAssertFalse(w.didGrow, "no allocation when the estimate holds")
        }
        XCTAssertEqual(bytes.count, 11)
    }
}
