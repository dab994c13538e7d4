import XCTest
@testable import TOTP
@testable import Crypto

final class Base32Tests: XCTestCase {
    /// RFC 4648 §10 vectors, both ways.
    func testRFC4648Vectors() throws {
        let vectors = [("f", "MY======"), ("fo", "MZXQ===="), ("foo", "MZXW6==="), ("foob", "MZXW6YQ="),
                       ("fooba", "MZXW6YTB"), ("foobar", "MZXW6YTBOI======")]
        for (plain, encoded) in vectors {
            XCTAssertEqual(Base32.encode(Array(plain.utf8)), encoded)
            XCTAssertEqual(try Base32.decode(encoded), Array(plain.utf8))
            XCTAssertEqual(try Base32.decode(String(encoded.filter { $0 != "=" })), Array(plain.utf8), "without padding")
        }
    }

    func testPastedFormsAccepted() throws {
        let expected = try Base32.decode("JBSWY3DPEHPK3PXP")
        for form in ["jbswy3dpehpk3pxp", "JBSW Y3DP EHPK 3PXP", "jbsw-y3dp-ehpk-3pxp", " JBSWY3DPEHPK3PXP ", "JBSWY3DP\tEHPK3PXP"] {
            XCTAssertEqual(try Base32.decode(form), expected, form)
        }
    }

    /// Set-up pages group seeds with no-break or thin spaces; copied, they must decode too, and
    /// positions still count them.
    func testNoBreakAndThinSpacesAccepted() throws {
        let expected = try Base32.decode("JBSWY3DPEHPK3PXP")
        for form in ["JBSW\u{00A0}Y3DP\u{00A0}EHPK\u{00A0}3PXP", "jbsw\u{2009}y3dp\u{202F}ehpk\u{2007}3pxp", "\u{00A0}JBSWY3DPEHPK3PXP\u{00A0}"] {
            XCTAssertEqual(try Base32.decode(form), expected, form.debugDescription)
        }
        XCTAssertThrowsError(try Base32.decode("JBSW\u{00A0}\u{00A0}Y3!DP")) { error in
            XCTAssertEqual((error as! Base32.Failure).kind, .invalidCharacter(position: 9))
        }
        // Other Unicode spaces are still refused (a zero-width space hides in a pasted seed).
        XCTAssertThrowsError(try Base32.decode("JBSW\u{200B}Y3DP")) { error in
            XCTAssertEqual((error as! Base32.Failure).kind, .invalidCharacter(position: 5))
        }
    }

    func testInvalidCharacterReportsPositionNotCharacter() {
        XCTAssertThrowsError(try Base32.decode("JBSW1Y3DP")) { error in
            let e = error as! Base32.Failure
            XCTAssertEqual(e.kind, .invalidCharacter(position: 5))
            XCTAssertTrue(e.description.contains("position 5"))
            XCTAssertFalse(e.description.contains("JBSW"))
        }
        XCTAssertThrowsError(try Base32.decode("JBSWY3DPÉ")) { error in
            XCTAssertEqual((error as! Base32.Failure).kind, .invalidCharacter(position: 9))
        }
        XCTAssertThrowsError(try Base32.decode("JBSW_Y3DP")) { error in
            XCTAssertEqual((error as! Base32.Failure).kind, .invalidCharacter(position: 5))
        }
    }

    func testPaddingOnlyAtTheEnd() {
        XCTAssertThrowsError(try Base32.decode("MY==MZXQ")) { error in
            XCTAssertEqual((error as! Base32.Failure).kind, .misplacedPadding(position: 3))
        }
    }

    func testImpossibleLengthsAndEmpty() {
        XCTAssertThrowsError(try Base32.decode("MZX")) { error in
            XCTAssertEqual((error as! Base32.Failure).kind, .invalidLength(symbols: 3))
        }
        XCTAssertThrowsError(try Base32.decode("")) { error in
            XCTAssertEqual((error as! Base32.Failure).kind, .empty)
        }
        XCTAssertThrowsError(try Base32.decode(" - ==")) { error in
            XCTAssertEqual((error as! Base32.Failure).kind, .empty)
        }
    }

    func testRoundTripRandom() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let bytes = (0..<Int.random(in: 1...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            XCTAssertEqual(try Base32.decode(Base32.encode(bytes)), bytes)
            XCTAssertEqual(try Base32.decode(Base32.encode(bytes, padding: false).lowercased()), bytes)
        }
    }
}
