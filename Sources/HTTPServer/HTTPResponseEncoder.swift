import Platform

/// Serialises responses into a reusable byte buffer: status line, handler headers (checked),
/// `Content-Length`, the cached `Date`, `Connection` when needed, then the body. No `String`
/// is built per response; handler header strings are appended as UTF-8 directly.
///
/// ```swift
/// var out: [UInt8] = []
/// HTTPResponseEncoder.encode(response, omitBody: false, connection: .close,
///                            date: dateCache.headerLine, into: &out)
/// ```
enum HTTPResponseEncoder {
    /// What to say in the `Connection` header.
    enum ConnectionHeader {
        case none, close, keepAlive
    }

    /// Appends `response` to `out`. Returns the names of dropped (invalid or reserved)
    /// handler headers, empty in the normal case.
    @discardableResult
    static func encode(
        _ response: HTTPResponse, omitBody: Bool, connection: ConnectionHeader, date: [UInt8],
        into out: inout [UInt8]
    ) -> [String] {
        var dropped: [String] = []
        let status = (100...999).contains(response.status) ? response.status : 500
        // 1xx, 204 and 304 carry neither Content-Length nor a body (RFC 9110 8.6, 15.3.5, 15.4.5).
        let bodyless = status < 200 || status == 204 || status == 304
        var valid: UInt64 = 0  // bit i: handler header i is sent (a response has far fewer than 64)
        var bound = 128 + date.count  // status line, Content-Length, Connection and the blank line
        for (i, (name, value)) in response.headers.enumerated() {
            if i < 64 && isValidName(name) && isValidValue(value) && !isReserved(name) {
                valid |= 1 << UInt64(i)
                bound += name.utf8.count + value.utf8.count + 4
            } else {
                dropped.append(name)
            }
        }
        out.append(expectedCount: bound) { w in
            w.write(static: "HTTP/1.1 ")
            w.write(byte: UInt8(truncatingIfNeeded: 0x30 + status / 100))
            w.write(byte: UInt8(truncatingIfNeeded: 0x30 + status / 10 % 10))
            w.write(byte: UInt8(truncatingIfNeeded: 0x30 + status % 10))
            w.write(byte: 0x20)
            w.write(static: reasonPhrase(status))
            w.write(static: "\r\n")
            for (i, (name, value)) in response.headers.enumerated() where i < 64 && valid & (1 << UInt64(i)) != 0 {
                w.write(utf8: name)
                w.write(static: ": ")
                w.write(utf8: value)
                w.write(static: "\r\n")
            }
            if !bodyless {
                w.write(static: "Content-Length: ")
                w.write(decimal: response.body.count)
                w.write(static: "\r\n")
            }
            w.write(bytes: date)
            switch connection {
            case .none: break
            case .close: w.write(static: "Connection: close\r\n")
            case .keepAlive: w.write(static: "Connection: keep-alive\r\n")
            }
            w.write(static: "\r\n")
        }
        if !omitBody && !bodyless {
            out.append(contentsOf: response.body)
        }
        return dropped
    }

    // withUTF8 walks native strings' contiguous bytes: several times faster than the `utf8`
    // view's iterator, and these run for every header of every response.
    static func isValidName(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { bytes in
            if bytes.isEmpty { return false }
            for c in bytes where !Ascii.isTchar(c) { return false }
            return true
        }
    }

    static func isValidValue(_ value: String) -> Bool {
        var value = value
        return value.withUTF8 { bytes in
            for c in bytes where (c < 0x20 && c != 0x09) || c == 0x7F { return false }
            return true
        }
    }

    static func isReserved(_ name: String) -> Bool {
        switch name.utf8.count {
        case 4: HTTPHeaders.sameName(name, "Date")
        case 10: HTTPHeaders.sameName(name, "Connection")
        case 14: HTTPHeaders.sameName(name, "Content-Length")
        case 17: HTTPHeaders.sameName(name, "Transfer-Encoding")
        default: false
        }
    }

    static func reasonPhrase(_ status: Int) -> StaticString {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default:
            switch status / 100 {
            case 1: "Informational"
            case 2: "Success"
            case 3: "Redirection"
            case 4: "Client Error"
            default: "Server Error"
            }
        }
    }
}
