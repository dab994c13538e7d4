// swift-tools-version:6.0
// TOTP Gateway: no Swift package dependencies by design. C libraries come from Debian
// (libcurl4-openssl-dev, libssl-dev) through systemLibrary targets; variadic C functions
// (curl_easy_setopt/getinfo) are reached through the typed shims in CShims.
import PackageDescription

let package = Package(
    name: "totp-gateway",
    products: [
        .executable(name: "totp-gateway", targets: ["Gateway"]),
        .executable(name: "totp-bot", targets: ["Bot"]),
        .library(name: "Shared", targets: ["Shared", "CurlHTTP"]),
    ],
    targets: [
        // libcurl headers and link flags (the curl client is the only Swift code that uses it).
        .systemLibrary(
            name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        // libcrypto: HMAC for TOTP, AES-256-GCM for sealed seed files, RAND_bytes, CRYPTO_memcmp.
        .systemLibrary(
            name: "CCrypto", path: "Sources/CCrypto", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),
        // Linux headers Glibc does not expose to Swift: epoll, eventfd, timerfd, adjtimex.
        .systemLibrary(name: "CSystem", path: "Sources/CSystem"),
        // Typed one-line wrappers over curl's variadic functions.
        .target(name: "CShims", dependencies: ["CCurl"], path: "Sources/CShims"),
        // Everything both binaries share except the curl client: TOTP, crypto, seeds, config,
        // logging, metrics and the HTTP server.
        .target(
            name: "Shared", dependencies: ["CCrypto", "CSystem"], path: "Sources/Shared",
            exclude: ["HTTPClient"]),
        // The only code that uses libcurl (HTTPClient, GatewayClient). A module of its own so the
        // gateway, which never makes HTTP requests, does not load libcurl and its dependencies
        // (gnutls, krb5, ldap...) or FoundationEssentials: about 3 MiB of resident memory.
        .target(
            name: "CurlHTTP", dependencies: ["Shared", "CShims", "CCurl"], path: "Sources/Shared/HTTPClient"),
        // etcd's HTTP/JSON gateway client, leader election and fenced writes (issue 15): the
        // foundation the bot's cross-host election builds on.
        .target(name: "Etcd", dependencies: ["Shared", "CurlHTTP"], path: "Sources/Etcd"),
        .executableTarget(name: "Gateway", dependencies: ["Shared"], path: "Sources/Gateway"),
        .executableTarget(name: "Bot", dependencies: ["Shared", "CurlHTTP"], path: "Sources/Bot"),
        // Helpers shared by the integration tests (real child processes with bounded waits).
        .target(name: "TestSupport", path: "Tests/Support"),
        .testTarget(name: "SharedTests", dependencies: ["Shared", "CurlHTTP", "TestSupport"], path: "Tests/SharedTests"),
        .testTarget(
            name: "GatewayTests", dependencies: ["Shared", "Gateway", "TestSupport"], path: "Tests/GatewayTests"),
        .testTarget(name: "EtcdTests", dependencies: ["Etcd", "Shared", "CurlHTTP", "TestSupport"], path: "Tests/EtcdTests"),
        .testTarget(name: "BotTests", dependencies: ["Shared", "CurlHTTP", "Bot", "TestSupport"], path: "Tests/BotTests"),
    ],
    swiftLanguageModes: [.v6]
)
