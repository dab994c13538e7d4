/// Looks for pieces of secrets in text the tests captured (error messages, stderr, logs).
/// A piece is any 8 consecutive letters or digits of a secret, compared case-insensitively and
/// with separators ignored on both sides, so a lower-cased, cut or re-spaced copy is found too.
///
/// ```swift
/// XCTAssertNil(SecretScan.leakedPiece(of: [seed], in: process.stderr))
/// ```
public enum SecretScan {
    public static let pieceLength = 8

    /// The first piece of any of `secrets` found in `text`, or nil.
    public static func leakedPiece(of secrets: [String], in text: String) -> String? {
        let lower = text.lowercased()
        let haystacks = [lower, String(lower.filter { $0.isLetter || $0.isNumber })]
        for secret in secrets {
            let s = Array(secret.lowercased().filter { $0.isLetter || $0.isNumber })
            guard s.count >= pieceLength else { continue }
            for i in 0...(s.count - pieceLength) {
                let piece = String(s[i..<i + pieceLength])
                if haystacks.contains(where: { $0.contains(piece) }) { return piece }
            }
        }
        return nil
    }
}
