import XCTest
import TextSupport

/// The byte-level trimming and splitting that loading thousands of tokens relies on: the same
/// pieces as the Character-level versions, for ASCII separators around any text.
final class StringTrimmingTests: XCTestCase {
    func testTrimmingAnASCIISetKeepsEverythingInside() {
        XCTAssertEqual(" \t a b \t ".trimmingCharacters(in: " \t"), "a b")
        XCTAssertEqual("\t\tcafé ü\t".trimmingCharacters(in: " \t"), "café ü")
        XCTAssertEqual(" \u{00A0}x\u{00A0} ".trimmingCharacters(in: " "), "\u{00A0}x\u{00A0}", "only the set's bytes go")
        XCTAssertEqual("   ".trimmingCharacters(in: " "), "")
        XCTAssertEqual("".trimmingCharacters(in: " "), "")
        XCTAssertEqual("x\r\n".trimmingCharacters(in: " \t\r"), "x\r\n", "\\n is not in the set, so the \\r before it stays")
        XCTAssertEqual("~x~".trimmingCharacters(in: "~"), "x", "bytes of 64 and above")
        XCTAssertEqual(Substring("..a..").trimmingCharacters(in: "."), "a")
        XCTAssertEqual("éxé".trimmingCharacters(in: "é"), "x", "a non-ASCII set still trims by character")
    }

    func testSplittingByAByteKeepsEmptyPieces() {
        XCTAssertEqual("bot:s3cret:*".splitting(byte: UInt8(ascii: ":")), ["bot", "s3cret", "*"])
        XCTAssertEqual(":a::b:".splitting(byte: UInt8(ascii: ":")), ["", "a", "", "b", ""])
        XCTAssertEqual("".splitting(byte: UInt8(ascii: ":")), [""])
        XCTAssertEqual("ü:é".splitting(byte: UInt8(ascii: ":")), ["ü", "é"])
    }
}
