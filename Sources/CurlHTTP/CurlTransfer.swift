import CCurl
import Platform

/// Collects one response while curl runs. The C callbacks capture nothing: curl hands this
/// object back as `userdata`, and they recover it with `Unmanaged` (the caller keeps it alive
/// for the whole `curl_easy_perform`).
///
/// ```swift
/// let transfer = CurlTransfer(maxBodyBytes: 1 << 20)
/// let userdata = Unmanaged.passUnretained(transfer).toOpaque()
/// handle.set(CURLOPT_WRITEDATA, pointer: userdata)
/// handle.setWriteCallback(CurlTransfer.writeCallback)
/// ```
final class CurlTransfer {
    private(set) var body: [UInt8] = []
    /// Headers of the latest response; a new status line (after `100 Continue`) clears them.
    private(set) var headers: [(String, String)] = []
    /// Set when the body exceeded `maxBodyBytes` and the transfer was aborted.
    private(set) var bodyTooLarge = false
    /// Status code of the latest status line (0 before one arrived).
    private(set) var status = 0
    /// Streaming mode: receives each piece of the body instead of `body` (which stays empty)
    /// and returns false to stop the transfer. `maxBodyBytes` does not apply.
    var onData: ((_ status: Int, _ bytes: UnsafeRawBufferPointer) -> Bool)?
    /// Set when `onData` returned false.
    private(set) var stoppedByReceiver = false
    let maxBodyBytes: Int
    /// Destination of curl's informational lines when verbose; `nil` otherwise.
    let verboseLogger: Logger?
    /// Values that must never reach a log line (password, bearer token).
    let secrets: [String]

    init(maxBodyBytes: Int, verboseLogger: Logger? = nil, secrets: [String] = []) {
        self.maxBodyBytes = maxBodyBytes
        self.verboseLogger = verboseLogger
        self.secrets = secrets
    }

    func appendBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if let onData {
            if onData(status, bytes) { return true }
            stoppedByReceiver = true
            return false
        }
        if body.count + bytes.count > maxBodyBytes {
            bodyTooLarge = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    /// One raw header line as curl delivers it, CRLF included.
    func headerLine(_ bytes: UnsafeRawBufferPointer) {
        let line = Self.lineText(bytes)
        if line.isEmpty { return }  // end of a header block
        if line.hasPrefix("HTTP/") {
            // A status line starts a new response (the final one follows any 1xx).
            headers.removeAll()
            let fields = line.split(separator: " ", maxSplits: 2)
            status = fields.count >= 2 ? Int(fields[1]) ?? 0 : 0
            return
        }
        if let first = line.first, first == " " || first == "\t" {
            // Obsolete line folding: continues the previous value.
            if let lastIndex = headers.indices.last {
                headers[lastIndex].1 += " " + line.trimmingHeaderSpaces()
            }
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = String(line[..<colon])
        let value = String(line[line.index(after: colon)...]).trimmingHeaderSpaces()
        headers.append((name, value))
    }

    /// Informational text from curl (never header or body data, which may carry secrets).
    func debugText(_ bytes: UnsafeRawBufferPointer) {
        guard let logger = verboseLogger else { return }
        var line = Self.lineText(bytes)
        // curl mentions the Basic user name ("Server auth using Basic with user ...").
        if line.lowercased().contains("user") { line = "(line about credentials omitted)" }
        for secret in secrets where !secret.isEmpty && line.contains(secret) {
            line = "(line containing a secret omitted)"
        }
        logger.debug("curl", ["text": .string(line)])
    }

    /// The bytes as text without the trailing line break. Trimmed as bytes: in Swift "\r\n"
    /// is one `Character`, so comparing `last` with "\n" would miss it.
    static func lineText(_ bytes: UnsafeRawBufferPointer) -> String {
        var end = bytes.count
        while end > 0, bytes[end - 1] == 0x0A || bytes[end - 1] == 0x0D { end -= 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self)
    }

    static let writeCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        data, size, count, userdata in
        guard let userdata else { return 0 }
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
        let length = size * count
        // Returning less than `length` makes curl stop with CURLE_WRITE_ERROR.
        return transfer.appendBody(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
    }

    static let headerCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        data, size, count, userdata in
        guard let userdata else { return 0 }
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
        let length = size * count
        transfer.headerLine(UnsafeRawBufferPointer(start: data, count: length))
        return length
    }

    /// `curl_debug_callback`: `(CURL *, curl_infotype, char *, size_t, void *) -> int`.
    static let debugCallback: @convention(c) (UnsafeMutableRawPointer?, curl_infotype, UnsafeMutablePointer<CChar>?, Int, UnsafeMutableRawPointer?) -> Int32 = {
        _, type, data, size, userdata in
        guard type == CURLINFO_TEXT, let userdata else { return 0 }
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
        transfer.debugText(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}

@available(*, unavailable)
extension CurlTransfer: Sendable {}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (FoundationEssentials has no trimming).
    fileprivate func trimmingHeaderSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
