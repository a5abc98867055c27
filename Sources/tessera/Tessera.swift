// The command line: thin wrappers that parse, call the libraries and print.

import ArgumentParser

@main
struct Tessera: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Stylize images tile by tile with small trained convolutional networks.",
        version: "0.1.0",
        subcommands: [DaemonCommand.self, SubmitCommand.self, StatusCommand.self, JobsCommand.self, JobCommand.self, CancelCommand.self, RetryCommand.self, StylesCommand.self, StylizeCommand.self, PairsCommand.self, TrainCommand.self, EvalCommand.self, ModelCommand.self, BenchCommand.self, CheatsheetCommand.self, CheckCommand.self]
    )
}
