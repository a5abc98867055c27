// Running a helper program to its end from a test. posix_spawn and waitpid rather than
// Foundation's Process: under the test runner, Process sometimes never saw `pg_ctl start` exit
// (the child stayed a zombie and waitUntilExit hung).

import Foundation

/// Runs `command` (an absolute path, then its arguments) to its end: its exit code (-1 if it was
/// killed or could not start) and its output, standard error included.
public func spawnAndWait(_ command: [String]) -> (status: Int32, output: String) {
    let log = "\(NSTemporaryDirectory())tessera-spawn-\(UUID().uuidString).log"
    defer { unlink(log) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv = command.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid = pid_t()
    let spawned = posix_spawn(&pid, command[0], &actions, nil, argv, environ)
    guard spawned == 0 else { return (-1, "\(command[0]): \(String(cString: strerror(spawned)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    return (status & 0x7f == 0 ? (status >> 8) & 0xff : -1, output)
}
