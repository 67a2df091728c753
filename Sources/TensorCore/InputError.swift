/// A problem with what the user gave us: a file, a tensor, an argument.
///
/// The message is one line that names the thing and says what is wrong with it; the command
/// line prints it as `error: <message>` and exits non-zero.
public struct InputError: Error, CustomStringConvertible, Equatable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
