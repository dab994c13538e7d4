import CCurl

extension HTTPClient {
    /// Sends `request` and hands the response body to `onData` piece by piece as it arrives
    /// (for a chunked stream such as etcd's watch), with the response's status code; `onData`
    /// returns false to stop. Blocks until the server ends the response, `onData` stops it,
    /// `cancellation` is cancelled from another thread, or `request.timeout` passes (which
    /// throws `.timeout`: set it to how long a stream may last). Transport failures throw as in
    /// `perform`. Each stream has its own connection, closed when this returns.
    ///
    /// ```swift
    /// var request = HTTPClientRequest(method: "POST", url: base + "/v3/watch", body: body, timeout: .seconds(60))
    /// let end = try http.stream(request, cancellation: cancellation) { status, bytes in
    ///     lines.append(bytes); return true
    /// }
    /// ```
    public func stream(
        _ request: HTTPClientRequest, cancellation: HTTPCancellation? = nil,
        onData: (_ status: Int, _ bytes: UnsafeRawBufferPointer) -> Bool
    ) throws(HTTPClientError) -> HTTPStreamEnd {
        let cancellation = cancellation ?? HTTPCancellation()
        let transfer = makeTransfer(for: request)
        // The socket callbacks point at `cancellation`, so the handle (and its connection) must
        // be gone before it can be: a handle of its own, cleaned up inside this scope, rather
        // than the thread's shared one whose cached connection would call them later.
        return try withExtendedLifetime(cancellation) { () throws(HTTPClientError) -> HTTPStreamEnd in
            let handle = try CurlEasyHandle()
            let code = try withoutActuallyEscaping(onData) { onData throws(HTTPClientError) -> CURLcode in
                transfer.onData = { status, bytes in !cancellation.isCancelled && onData(status, bytes) }
                defer { transfer.onData = nil }
                return try run(request, on: handle, transfer: transfer) { handle in
                    let userdata = UnsafeRawPointer(Unmanaged.passUnretained(cancellation).toOpaque())
                    handle.set(CURLOPT_FORBID_REUSE, 1)
                    handle.set(CURLOPT_SOCKOPTFUNCTION, pointer: unsafeBitCast(HTTPCancellation.sockoptCallback, to: UnsafeRawPointer.self))
                    handle.set(CURLOPT_SOCKOPTDATA, pointer: userdata)
                    handle.set(CURLOPT_CLOSESOCKETFUNCTION, pointer: unsafeBitCast(HTTPCancellation.closeSocketCallback, to: UnsafeRawPointer.self))
                    handle.set(CURLOPT_CLOSESOCKETDATA, pointer: userdata)
                    handle.set(CURLOPT_XFERINFOFUNCTION, pointer: unsafeBitCast(HTTPCancellation.progressCallback, to: UnsafeRawPointer.self))
                    handle.set(CURLOPT_XFERINFODATA, pointer: userdata)
                    handle.set(CURLOPT_NOPROGRESS, 0)
                }
            }
            let reason: HTTPStreamEnd.Reason
            if cancellation.isCancelled {
                reason = .cancelled
            } else if code == CURLE_OK {
                reason = .complete
            } else if transfer.stoppedByReceiver {
                reason = .stoppedByReceiver
            } else {
                throw failure(code, handle: handle, transfer: transfer, request: request)
            }
            return HTTPStreamEnd(status: transfer.status, headers: transfer.headers, reason: reason)
        }
    }
}
