import Foundation
import XCTest

@testable import Platform

final class ByteWriterTests: XCTestCase {
    func testWritesEveryKindOfValue() {
        let bytes = [UInt8](writingAtMost: 256) { w in
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
            let written = [UInt8](writingAtMost: JSONText.maxQuotedCount(value)) { $0.write(jsonString: value) }
            XCTAssertEqual(String(decoding: written, as: UTF8.self), JSONText.quoted(value), value)
            // And the result is valid JSON that decodes back to the value.
            let decoded = try? JSONSerialization.jsonObject(with: Data(("[" + JSONText.quoted(value) + "]").utf8)) as? [String]
            XCTAssertEqual(decoded, [value])
        }
    }

    func testAppendKeepsWhatWasThere() {
        var out = Array("head:".utf8)
        out.append(writingAtMost: 8) { w in w.write(static: "tail") }
        out.append(static: "|")
        out.append(utf8: "x")
        out.append(decimal: -7)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "head:tail|x-7")
    }

    func testAnExactBoundIsEnough() {
        let bytes = [UInt8](writingAtMost: 11) { w in
            w.write(static: "ab")
            w.write(decimal: 123_456_789)
        }
        XCTAssertEqual(bytes.count, 11)
    }
}
