import XCTest
@testable import TOTP

final class OTPTests: XCTestCase {
    let rfcSeed20 = Array("12345678901234567890".utf8)
    let rfcSeed32 = Array("12345678901234567890123456789012".utf8)
    let rfcSeed64 = Array("1234567890123456789012345678901234567890123456789012345678901234".utf8)

    /// RFC 4226 Appendix D, counters 0-9.
    func testRFC4226AppendixD() {
        let expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]
        for (counter, code) in expected.enumerated() {
            XCTAssertEqual(OTP.hotp(secret: rfcSeed20, counter: UInt64(counter), digits: 6, algorithm: .sha1), code, "counter \(counter)")
        }
    }

    /// RFC 6238 Appendix B: all six times (including 20000000000, past 2^32 s) for the three hashes, 8 digits.
    func testRFC6238AppendixB() throws {
        let rows: [(Int64, String, String, String)] = [
            (59, "94287082", "46119246", "90693936"),
            (1_111_111_109, "07081804", "68084774", "25091201"),
            (1_111_111_111, "14050471", "67062674", "99943326"),
            (1_234_567_890, "89005924", "91819424", "93441116"),
            (2_000_000_000, "69279037", "90698825", "38618901"),
            (20_000_000_000, "65353130", "77737706", "47863826"),
        ]
        let p1 = try TOTPParameters(algorithm: .sha1, digits: 8, period: 30)
        let p256 = try TOTPParameters(algorithm: .sha256, digits: 8, period: 30)
        let p512 = try TOTPParameters(algorithm: .sha512, digits: 8, period: 30)
        for (t, sha1, sha256, sha512) in rows {
            XCTAssertEqual(OTP.totp(secret: rfcSeed20, parameters: p1, at: t).code, sha1, "SHA1 at \(t)")
            XCTAssertEqual(OTP.totp(secret: rfcSeed32, parameters: p256, at: t).code, sha256, "SHA256 at \(t)")
            XCTAssertEqual(OTP.totp(secret: rfcSeed64, parameters: p512, at: t).code, sha512, "SHA512 at \(t)")
        }
    }

    func testTimingFields() throws {
        let p = try TOTPParameters(algorithm: .sha1, digits: 8, period: 30)
        let c = OTP.totp(secret: rfcSeed20, parameters: p, at: 59, includeNext: true)
        XCTAssertEqual(c.step, 1)
        XCTAssertEqual(c.remaining, 1)
        XCTAssertEqual(c.expiresAt, 60)
        XCTAssertEqual(c.nextExpiresAt, 90)
        XCTAssertEqual(c.nextCode, OTP.totp(secret: rfcSeed20, parameters: p, at: 60).code)
        let start = OTP.totp(secret: rfcSeed20, parameters: p, at: 60)
        XCTAssertEqual(start.remaining, 30, "the first second of a step has the whole period left")
        XCTAssertNil(start.nextCode)
    }

    func testStepsPast32BitsAndLongPeriods() throws {
        let p = try TOTPParameters(algorithm: .sha1, digits: 6, period: 3600)
        let t: Int64 = 1 << 40
        let c = OTP.totp(secret: rfcSeed20, parameters: p, at: t)
        XCTAssertEqual(c.step, UInt64(t) / 3600)
        XCTAssertEqual(c.code, OTP.hotp(secret: rfcSeed20, counter: UInt64(t) / 3600, digits: 6, algorithm: .sha1))
        XCTAssertEqual(c.expiresAt - t, Int64(c.remaining))
        let one = try TOTPParameters(algorithm: .sha1, digits: 6, period: 1)
        XCTAssertEqual(OTP.totp(secret: rfcSeed20, parameters: one, at: 5).remaining, 1)
    }

    func testLeadingZerosKept() {
        // RFC 6238 row 1111111109 SHA1 is "07081804".
        let code = OTP.hotp(secret: rfcSeed20, counter: 1_111_111_109 / 30, digits: 8, algorithm: .sha1)
        XCTAssertEqual(code, "07081804")
        XCTAssertEqual(code.count, 8)
    }

    func testParametersValidated() {
        XCTAssertThrowsError(try TOTPParameters(digits: 5))
        XCTAssertThrowsError(try TOTPParameters(digits: 9))
        XCTAssertThrowsError(try TOTPParameters(period: 0))
        XCTAssertThrowsError(try TOTPParameters(period: 3601))
        XCTAssertNoThrow(try TOTPParameters(algorithm: .sha512, digits: 7, period: 1))
    }
}
