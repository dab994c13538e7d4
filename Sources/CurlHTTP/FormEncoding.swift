/// `application/x-www-form-urlencoded` bodies and query components. Every byte outside the
/// RFC 3986 unreserved set is percent-encoded (a space becomes `%20`, which form parsers accept
/// as well as `+`).
///
/// ```swift
/// FormEncoding.encode([("to", "[42]"), ("content", "a b")])   // "to=%5B42%5D&content=a%20b"
/// FormEncoding.percentEncode("db/prod")                        // "db%2Fprod"
/// ```
public enum FormEncoding {
    /// `k1=v1&k2=v2` with keys and values percent-encoded, as UTF-8 bytes.
    public static func encode(_ pairs: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (index, (key, value)) in pairs.enumerated() {
            if index > 0 { out.append(UInt8(ascii: "&")) }
            appendEncoded(key, to: &out)
            out.append(UInt8(ascii: "="))
            appendEncoded(value, to: &out)
        }
        return out
    }

    /// `s` with every byte outside `A-Z a-z 0-9 - . _ ~` written as `%XX` (upper-case hex).
    public static func percentEncode(_ s: String) -> String {
        var out: [UInt8] = []
        appendEncoded(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static let hex = Array("0123456789ABCDEF".utf8)

    private static func appendEncoded(_ s: String, to out: inout [UInt8]) {
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
    }
}
