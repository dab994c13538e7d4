import Crypto

/// RFC 4648 base32 as people paste it from authenticator set-up pages: case-insensitive,
/// spaces (no-break and thin ones too) and hyphens between groups, padding optional. Errors give the 1-based position of
/// the offending character, never the character or the seed.
///
/// ```swift
/// try Base32.decode("jbsw y3dp-ehpk 3pxp")   // 10 bytes
/// Base32.encode([0x48, 0x65])                // "JBSQ===="
/// ```
public enum Base32 {
    /// Why a base32 text was refused.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Kind: Sendable, Equatable {
            case empty
            case invalidCharacter(position: Int)
            case misplacedPadding(position: Int)
            case invalidLength(symbols: Int)
        }
        public let kind: Kind

        public var description: String {
            switch kind {
            case .empty:
                "the seed is empty"
            case .invalidCharacter(let position):
                "invalid base32 character at position \(position) (allowed: A-Z, 2-7, spaces, hyphens, '=' padding at the end)"
            case .misplacedPadding(let position):
                "base32 padding '=' at position \(position) is followed by more data; padding may only end the seed"
            case .invalidLength(let symbols):
                "\(symbols) base32 symbols do not make whole bytes (a length of 1, 3 or 6 modulo 8 is impossible); the seed was probably cut off"
            }
        }
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    private static let decodeTable: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (i, c) in alphabet.enumerated() {
            table[Int(c)] = Int8(i)
            if c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") { table[Int(c) + 32] = Int8(i) }  // lower case
        }
        return table
    }()

    /// The spaces allowed between groups (and between a seed and its `check=`): besides space and
    /// tab, the no-break and thin spaces web pages use to group a seed for display (U+00A0,
    /// U+2007, U+2009, U+202F), which come along when it is copied.
    public static func isSpace(_ c: Unicode.Scalar) -> Bool { isSpace(value: c.value) }

    static func isSpace(value: UInt32) -> Bool {
        switch value {
        case 0x20, 0x09, 0xA0, 0x2007, 0x2009, 0x202F: true
        default: false
        }
    }

    public static func decode(_ text: String) throws(Failure) -> [UInt8] {
        // An ASCII text (almost every seed) is read as bytes, which are its scalars: walking the
        // scalar view was most of the decoding time of a 30,000-label file.
        var text = text
        let ascii: Result<[UInt8], Failure>? = text.withUTF8 { bytes in
            guard !bytes.contains(where: { $0 >= 0x80 }) else { return nil }
            do throws(Failure) { return .success(try decode(scalarValues: bytes)) } catch { return .failure(error) }
        }
        if let ascii { return try ascii.get() }
        return try Array(text.unicodeScalars.map(\.value)).withUnsafeBufferPointer { scalars throws(Failure) in
            try decode(scalarValues: scalars)
        }
    }

    /// Decodes a text given as its Unicode scalar values; positions count scalars.
    private static func decode<C: UnsignedInteger & FixedWidthInteger>(scalarValues: UnsafeBufferPointer<C>) throws(Failure) -> [UInt8] {
        var values: [UInt8] = []
        values.reserveCapacity(scalarValues.count)
        var paddingStart: Int? = nil
        var position = 0
        let table = decodeTable  // once, not a lazy global's check per character
        for scalar in scalarValues {
            let c = UInt32(scalar)
            position += 1
            if c == 0x2D || isSpace(value: c) { continue }  // '-'
            if c == 0x3D {  // '='
                if paddingStart == nil { paddingStart = position }
                continue
            }
            guard c < 0x80, table[Int(c)] >= 0 else {
                throw Failure(kind: .invalidCharacter(position: position))
            }
            if let start = paddingStart { throw Failure(kind: .misplacedPadding(position: start)) }
            values.append(UInt8(table[Int(c)]))
        }
        guard !values.isEmpty else { throw Failure(kind: .empty) }
        switch values.count % 8 {
        case 0, 2, 4, 5, 7: break
        default:
            throw Failure(kind: .invalidLength(symbols: values.count))
        }
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 5 / 8)
        var buffer: UInt32 = 0
        var bits = 0
        for v in values {
            buffer = (buffer << 5) | UInt32(v)
            bits += 5
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return out
    }

    /// Upper-case base32 with `=` padding.
    public static func encode(_ bytes: [UInt8], padding: Bool = true) -> String {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for b in bytes {
            buffer = (buffer << 8) | UInt32(b)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[Int((buffer >> UInt32(bits)) & 0x1F)])
            }
        }
        if bits > 0 { out.append(alphabet[Int((buffer << UInt32(5 - bits)) & 0x1F)]) }
        if padding { while out.count % 8 != 0 { out.append(UInt8(ascii: "=")) } }
        return String(decoding: out, as: UTF8.self)
    }
}
