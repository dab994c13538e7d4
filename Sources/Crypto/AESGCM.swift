import CCrypto

/// AES-256-GCM through libcrypto's EVP interface: 32-byte key, 12-byte nonce, 16-byte tag.
///
/// ```swift
/// let box = try AESGCM.seal(plaintext, key: key, aad: Array("label".utf8))
/// let back = try AESGCM.open(box, key: key, aad: Array("label".utf8))
/// ```
public enum AESGCM {
    public static let keyLength = 32
    public static let nonceLength = 12
    public static let tagLength = 16

    /// Why a seal or open failed.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String

        public init(description: String) { self.description = description }
    }

    /// Returns `nonce || ciphertext || tag` with a fresh random nonce.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], aad: [UInt8]) throws(Failure) -> [UInt8] {
        guard key.count == keyLength else { throw Failure(description: "AES-256-GCM needs a 32-byte key") }
        let nonce = Crypto.randomBytes(nonceLength)
        guard let ctx = EVP_CIPHER_CTX_new() else { throw Failure(description: "out of memory") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: plaintext.count + 16)
        var tag = [UInt8](repeating: 0, count: tagLength)
        var len: Int32 = 0
        var total: Int32 = 0
        guard EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, nil, nil) == 1,
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceLength), nil) == 1,
            EVP_EncryptInit_ex(ctx, nil, nil, key, nonce) == 1
        else { throw Failure(description: "AES-256-GCM initialisation failed") }
        if !aad.isEmpty {
            guard EVP_EncryptUpdate(ctx, nil, &len, aad, Int32(aad.count)) == 1 else {
                throw Failure(description: "AES-256-GCM AAD failed")
            }
        }
        let ok = out.withUnsafeMutableBufferPointer { o -> Bool in
            if !plaintext.isEmpty {
                guard EVP_EncryptUpdate(ctx, o.baseAddress, &len, plaintext, Int32(plaintext.count)) == 1 else { return false }
                total = len
            }
            guard EVP_EncryptFinal_ex(ctx, o.baseAddress! + Int(total), &len) == 1 else { return false }
            total += len
            return true
        }
        guard ok, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, Int32(tagLength), &tag) == 1 else {
            throw Failure(description: "AES-256-GCM encryption failed")
        }
        return nonce + out.prefix(Int(total)) + tag
    }

    /// Opens `nonce || ciphertext || tag`; throws if the key, AAD or bytes do not match.
    public static func open(_ box: [UInt8], key: [UInt8], aad: [UInt8]) throws(Failure) -> [UInt8] {
        guard key.count == keyLength else { throw Failure(description: "AES-256-GCM needs a 32-byte key") }
        guard box.count >= nonceLength + tagLength else { throw Failure(description: "sealed value is too short") }
        let nonce = Array(box.prefix(nonceLength))
        var tag = Array(box.suffix(tagLength))
        let ciphertext = Array(box[nonceLength..<(box.count - tagLength)])
        guard let ctx = EVP_CIPHER_CTX_new() else { throw Failure(description: "out of memory") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: ciphertext.count + 16)
        var len: Int32 = 0
        var total: Int32 = 0
        guard EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, nil, nil) == 1,
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceLength), nil) == 1,
            EVP_DecryptInit_ex(ctx, nil, nil, key, nonce) == 1
        else { throw Failure(description: "AES-256-GCM initialisation failed") }
        if !aad.isEmpty {
            guard EVP_DecryptUpdate(ctx, nil, &len, aad, Int32(aad.count)) == 1 else {
                throw Failure(description: "AES-256-GCM AAD failed")
            }
        }
        let ok = out.withUnsafeMutableBufferPointer { o -> Bool in
            if !ciphertext.isEmpty {
                guard EVP_DecryptUpdate(ctx, o.baseAddress, &len, ciphertext, Int32(ciphertext.count)) == 1 else { return false }
                total = len
            }
            guard EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(tagLength), &tag) == 1 else { return false }
            guard EVP_DecryptFinal_ex(ctx, o.baseAddress! + Int(total), &len) == 1 else { return false }
            total += len
            return true
        }
        guard ok else {
            throw Failure(description: "authentication failed: wrong key, or the data was modified")
        }
        return Array(out.prefix(Int(total)))
    }
}
