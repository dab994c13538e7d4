#if canImport(Glibc)
import Glibc
#endif
@testable import HTTPServer
@testable import Platform

/// Starts a server on 127.0.0.1 port 0 for a test; `stopNow` in the caller's `defer`.
func makeTestServer(
    _ configure: (inout HTTPServerConfiguration) -> Void = { _ in },
    handler: @escaping HTTPHandler = { request in
        HTTPResponse(status: 200, headers: [("Content-Type", "application/json")],
                     body: Array("{\"path\":\"\(request.path)\"}".utf8))
    }
) throws -> (HTTPServer, Int) {
    var config = HTTPServerConfiguration()
    config.port = 0
    config.eventLoops = 2
    configure(&config)
    let server = HTTPServer(configuration: config, logger: Logger(component: "http-test", sink: .memory()), handler: handler)
    let port = try server.start()
    return (server, port)
}

/// Milliseconds on the monotonic clock.
func monotonicMilliseconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1_000_000
}
