#if canImport(Glibc)
import Glibc
#endif
import CCurl
import CShims

/// Owns one libcurl easy handle (and its error buffer) and frees both in `deinit`.
/// A handle keeps its connection cache across `curl_easy_reset`, so each thread reuses one
/// (`forCurrentThread()`) to keep connections alive between requests. A handle must only be
/// used by one thread at a time, hence not `Sendable`.
///
/// ```swift
/// let handle = try CurlEasyHandle.forCurrentThread()
/// handle.reset()
/// handle.set(CURLOPT_URL, string: "http://127.0.0.1:8080/healthz")
/// let code = handle.perform()
/// ```
final class CurlEasyHandle {
    /// The `CURL *`.
    let raw: UnsafeMutableRawPointer
    /// `CURLOPT_ERRORBUFFER` target: curl writes a NUL-terminated message on failure.
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// First `setopt` failure since the last `reset()`, so callers can set many options and
    /// check once.
    private(set) var setoptFailure: (option: CURLoption, code: CURLcode)?

    init() throws(HTTPClientError) {
        guard let raw = curl_easy_init() else {
            throw HTTPClientError(
                kind: .other, curlCode: Int(CURLE_FAILED_INIT.rawValue),
                message: "curl_easy_init failed (out of memory?)")
        }
        self.raw = raw
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(raw)
        errorBuffer.deallocate()
    }

    /// Clears every option (the connection and DNS caches survive) and re-arms the options
    /// every request needs: the error buffer and `NOSIGNAL` (curl must not use signals in a
    /// threaded process).
    func reset() {
        curl_easy_reset(raw)
        setoptFailure = nil
        errorBuffer[0] = 0
        set(CURLOPT_ERRORBUFFER, pointer: UnsafeRawPointer(errorBuffer))
        set(CURLOPT_NOSIGNAL, 1)
    }

    func set(_ option: CURLoption, _ value: Int) {
        record(option, tg_curl_easy_setopt_long(raw, option, CLong(value)))
    }

    /// curl copies string options, so `value` need not outlive the call.
    func set(_ option: CURLoption, string value: String) {
        record(option, tg_curl_easy_setopt_str(raw, option, value))
    }

    func set(_ option: CURLoption, pointer value: UnsafeRawPointer?) {
        record(option, tg_curl_easy_setopt_ptr(raw, option, value))
    }

    func set(_ option: CURLoption, offset value: Int64) {
        record(option, tg_curl_easy_setopt_off(raw, option, curl_off_t(value)))
    }

    func setWriteCallback(
        _ callback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int
    ) {
        record(CURLOPT_WRITEFUNCTION, tg_curl_easy_setopt_write_callback(raw, callback))
    }

    func setHeaderCallback(
        _ callback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int
    ) {
        record(CURLOPT_HEADERFUNCTION, tg_curl_easy_setopt_header_callback(raw, callback))
    }

    /// Runs the transfer on the calling thread.
    func perform() -> CURLcode {
        curl_easy_perform(raw)
    }

    /// `CURLINFO_RESPONSE_CODE` of the last transfer (0 if none).
    func responseCode() -> Int {
        var value: CLong = 0
        _ = tg_curl_easy_getinfo_long(raw, CURLINFO_RESPONSE_CODE, &value)
        return Int(value)
    }

    /// The error buffer's message, or curl's generic text for `code` when it is empty.
    func errorMessage(for code: CURLcode) -> String {
        if errorBuffer[0] != 0 {
            let length = strlen(errorBuffer)
            return CurlTransfer.lineText(UnsafeRawBufferPointer(start: errorBuffer, count: length))
        }
        return String(cString: curl_easy_strerror(code))
    }

    private func record(_ option: CURLoption, _ code: CURLcode) {
        if code != CURLE_OK, setoptFailure == nil { setoptFailure = (option, code) }
    }

    /// This thread's handle, created on first use and cleaned up when the thread exits.
    /// Shared by every `HTTPClient` on the thread: all options are reset per request, and curl
    /// only reuses a cached connection whose host, port and TLS settings match.
    static func forCurrentThread() throws(HTTPClientError) -> CurlEasyHandle {
        if let existing = pthread_getspecific(threadHandleKey) {
            return Unmanaged<CurlEasyHandle>.fromOpaque(existing).takeUnretainedValue()
        }
        let handle = try CurlEasyHandle()
        // The thread-specific slot holds one retain; the key's destructor releases it.
        pthread_setspecific(threadHandleKey, Unmanaged.passRetained(handle).toOpaque())
        return handle
    }
}

@available(*, unavailable)
extension CurlEasyHandle: Sendable {}

// Created once per process; its destructor runs on each thread's exit and drops that thread's
// handle (curl_easy_cleanup closes the cached connections).
private let threadHandleKey: pthread_key_t = {
    var key = pthread_key_t()
    let rc = pthread_key_create(&key) { pointer in
        guard let pointer else { return }
        Unmanaged<CurlEasyHandle>.fromOpaque(pointer).release()
    }
    precondition(rc == 0, "pthread_key_create failed with \(rc): too many thread-specific keys")
    return key
}()
