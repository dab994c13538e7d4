import XCTest
@testable import Bot
