extension HTTPRequest {
    /// The request head as wire bytes (`METHOD target VERSION`, one `name: value` line per
    /// field, blank line). Parsing the result yields an equal request; the fuzz target and the
    /// tests use this to check the parser round-trips.
    ///
    /// ```swift
    /// HTTPRequest(path: "/healthz", headers: HTTPHeaders([("Host", "x")])).serializedHead()
    /// // "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" as bytes
    /// ```
    public func serializedHead() -> [UInt8] {
        var out: [UInt8] = []
        out.append(contentsOf: method.description.utf8)
        out.append(0x20)
        out.append(contentsOf: path.utf8)
        if let query {
            out.append(UInt8(ascii: "?"))
            out.append(contentsOf: query.utf8)
        }
        out.append(0x20)
        out.append(contentsOf: version.description.utf8)
        out.append(contentsOf: [0x0D, 0x0A])
        for field in headers {
            out.append(contentsOf: field.name.utf8)
            out.append(contentsOf: [UInt8(ascii: ":"), 0x20])
            out.append(contentsOf: field.value.utf8)
            out.append(contentsOf: [0x0D, 0x0A])
        }
        out.append(contentsOf: [0x0D, 0x0A])
        return out
    }
}
