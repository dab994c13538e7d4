import CCurl
import CShims

/// Process-wide libcurl initialisation. `curl_global_init` is not safe to race with other
/// threads using curl, so call this once from `main` before any thread starts; later calls
/// are cheap no-ops (the work sits in a lazily initialised global, which Swift runs once).
///
/// ```swift
/// CurlRuntime.initializeOnce()   // first line of main.swift
/// let http = HTTPClient(options: HTTPClientOptions(userAgent: "totp-bot/1.0"))
/// ```
public enum CurlRuntime {
    /// Runs `curl_global_init(CURL_GLOBAL_DEFAULT)` the first time; idempotent and thread-safe.
    public static func initializeOnce() {
        _ = globalInitResult
    }

    /// The code `curl_global_init` returned (`CURLE_OK`, 0, when it worked).
    static var initializationCode: Int {
        Int(globalInitResult.rawValue)
    }
}

// A global `let` is initialised exactly once, under a `swift_once` lock, on first use.
private let globalInitResult: CURLcode = curl_global_init(tg_curl_global_default())
