using System.CommandLine;
using System.Text.RegularExpressions;
using Workers.Cli.Broker;
using Workers.Cli.Tests.Contracts;
using Workers.Cli.Tests.Support;
using Workers.Testing;
using Xunit;

namespace Workers.Cli.Tests.Docs;

/// <summary>
/// Every command the repository's Markdown tells a reader to type (README.md, compose/, src/, docs/; new files are
/// picked up), taken from the files themselves: <c>workers …</c> runs (the real CLI, in this class's vhost and
/// database, in an order where each finds what it needs); other commands are matched to where CI runs them, checked
/// offline (compose services, rendered manifests, script verbs), or exempt with a reason. A command the test does not
/// know fails it, naming the file and line. See <see cref="DocumentedCommandPlan"/>.
/// </summary>
public sealed partial class DocumentedCommandsTests(RabbitMqTestVhost vhost, PostgresTestDatabase database)
    : BrokerTestClass(vhost), IClassFixture<PostgresTestDatabase>
{
    private static readonly string Root = WorkerProcess.RepositoryRoot();

    private static readonly Lazy<DocumentedCommandPlan> Plan = new(() => DocumentedCommandPlan.For(Root, MarkdownCommands.FindAll(Root)));

    [Fact]
    public void EveryDocumentedCommand_IsRunCheckedOrExempt()
    {
        var plan = Plan.Value;
        var output = TestContext.Current.TestOutputHelper;
        output?.WriteLine($"{plan.Commands.Count} documented commands in {MarkdownCommands.FindFiles(Root).Count} files: {plan.Runs.Count} CLI runs, {plan.Synopses.Count} CLI synopses/references, {plan.Checks.Count} checks, {plan.Exempt.Count} exempt");
        foreach (var command in plan.Commands)
        {
            bool Same(DocumentedCommand other) => other.Location == command.Location && other.Text == command.Text;
            var what = plan.Runs.Where(r => Same(r.Command)).Select(r => $"run: workers {string.Join(' ', r.Arguments)}")
                .Concat(plan.Synopses.Where(s => Same(s.Command)).Select(_ => "synopsis/reference: checked against the CLI parser"))
                .Concat(plan.Checks.Where(c => Same(c.Command)).Select(c => "check: " + c.What))
                .Concat(plan.Exempt.Where(e => Same(e.Command)).Select(e => "exempt: " + e.Reason))
                .DefaultIfEmpty(command.Text.StartsWith("echo ", StringComparison.Ordinal) ? "echo: nothing to check" : "UNKNOWN");
            output?.WriteLine($"{command}\n    {string.Join("\n    ", what)}");
        }

        Assert.True(plan.Unknown.Count == 0, "Documented commands the test cannot exercise:\n" + string.Join('\n', plan.Unknown));
        Assert.NotEmpty(plan.Runs);
    }

    [Fact]
    public async Task DocumentedWorkersCommands_SucceedAgainstTheBroker()
    {
        var plan = Plan.Value;
        var runs = plan.Runs.OrderBy(r => r.Phase).ToList();
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [ConnectionSettings.RabbitMqVariable] = Vhost.Uri.ToString(),
            [ConnectionSettings.ManagementVariable] = Vhost.ManagementUri.ToString(),
            [ConnectionSettings.PostgresVariable] = database.ConnectionString,
        };

        // What the commands need: the queues they publish to or replay into, and a dead letter in every _error queue
        // a dlq command reads (its id is the <message-id> of `dlq show`).
        var seeded = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var queue in runs.Select(r => TargetQueue(r.Arguments)).OfType<string>().Distinct(StringComparer.Ordinal))
        {
            await Broker.DeclareQueueAsync(queue);
        }

        var failures = new List<string>();
        var output = TestContext.Current.TestOutputHelper;
        foreach (var run in runs)
        {
            var arguments = run.Arguments.ToList();
            if (DeadLetterQueue(arguments) is { } errorQueue && !seeded.ContainsKey(errorQueue))
            {
                await Broker.DeclareQueueAsync(QueueNames.EndpointOf(errorQueue));
                seeded[errorQueue] = await Broker.PublishWorkersDeadLetterAsync(errorQueue, QueueNames.EndpointOf(errorQueue), new OrderSubmitted { Number = 1, Behaviour = "invalid" }, "System.InvalidOperationException", 5, DateTimeOffset.UtcNow);
            }

            var seededId = DeadLetterQueue(arguments) is { } queue ? seeded[queue] : null;
            if (arguments.Any(a => a.Contains(DocumentedCommandPlan.MessageIdToken, StringComparison.Ordinal)))
            {
                if (seededId is null)
                {
                    failures.Add($"{run}: <message-id> outside a dlq command");
                    continue;
                }

                arguments = [.. arguments.Select(a => a.Replace(DocumentedCommandPlan.MessageIdToken, seededId, StringComparison.Ordinal))];
            }

            arguments = [.. ConnectionOverrides(arguments, environment)];
            var result = await CliRunner.RunAsync([.. arguments], standardInput: null, name => environment.GetValueOrDefault(name), TestContext.Current.CancellationToken);
            output?.WriteLine($"{run} → exit {result.ExitCode}");
            if (result.ExitCode != 0)
            {
                failures.Add($"{run}\n  exit {result.ExitCode}: {result.Error.Trim()}");
            }
            else if (arguments.Take(2).SequenceEqual(["dlq", "show"]) && seededId is not null && !result.Output.Contains(seededId, StringComparison.Ordinal))
            {
                failures.Add($"{run}\n  did not show the dead letter {seededId}:\n{result.Output}");
            }
        }

        Assert.True(failures.Count == 0, "Documented workers commands that fail when followed:\n" + string.Join('\n', failures));
    }

    [Fact]
    public async Task DocumentedToolCommands_MatchTheRepositoryAndWhereCiRunsThem()
    {
        var plan = Plan.Value;
        if (OfflineTools.Kubectl is null)
        {
            TestContext.Current.TestOutputHelper?.WriteLine("kubectl is not on the PATH: manifests are read, not rendered, and kubectl's own checks are skipped");
        }

        var failures = new List<string>();
        foreach (var check in plan.Checks)
        {
            if (await check.Run() is { } problem)
            {
                failures.Add($"{check.Command}\n  {check.What}: {problem}");
            }
        }

        Assert.True(failures.Count == 0, "Documented commands that do not match the repository:\n" + string.Join('\n', failures));
    }

    [Fact]
    public void DocumentedCliSynopsesAndOptions_AreAcceptedByTheCliParser()
    {
        var plan = Plan.Value;
        var root = CliApp.BuildRootCommand(new CliConsole(TextWriter.Null, TextWriter.Null, TextReader.Null, inputRedirected: false, interactive: false));
        var failures = new List<string>();
        foreach (var (command, words) in plan.Synopses)
        {
            if (CheckSynopsis(root, words) is { } problem)
            {
                failures.Add($"{command}: {problem}");
            }
        }

        // Options named in the CLI's own README (`--canary K`, `--inbox-retention`) exist on some command; a paragraph
        // about `dotnet tool install` names dotnet's options (`--global`, `--tool-path`), not the CLI's.
        var every = AllOptions(root);
        foreach (var file in MarkdownCommands.FindFiles(Root).Where(f => f.StartsWith("src/Workers.Cli/", StringComparison.Ordinal)))
        {
            var lines = File.ReadAllLines(Path.Combine(Root, file));
            var aboutDotnet = false;
            for (var i = 0; i < lines.Length; i++)
            {
                if (lines[i].Trim().Length == 0)
                {
                    aboutDotnet = false;
                    continue;
                }

                aboutDotnet |= lines[i].Contains("`dotnet ", StringComparison.Ordinal);
                if (aboutDotnet)
                {
                    continue;
                }

                foreach (Match option in OptionSpan().Matches(lines[i]))
                {
                    if (!every.Contains(option.Groups["name"].Value))
                    {
                        failures.Add($"{file}:{i + 1}: the CLI has no option {option.Groups["name"].Value}");
                    }
                }
            }
        }

        Assert.True(failures.Count == 0, "Documented CLI usage the parser rejects:\n" + string.Join('\n', failures));
    }

    [Fact]
    public void DocumentedPaths_Exist()
    {
        var failures = new List<string>();
        foreach (var file in MarkdownCommands.FindFiles(Root))
        {
            var lines = File.ReadAllLines(Path.Combine(Root, file));
            for (var i = 0; i < lines.Length; i++)
            {
                foreach (var path in PathsIn(lines[i]))
                {
                    if (!PathExists(file, path))
                    {
                        failures.Add($"{file}:{i + 1}: {path} is not in the repository");
                    }
                }
            }
        }

        Assert.True(failures.Count == 0, "Documented files that do not exist:\n" + string.Join('\n', failures));
    }

    [Fact]
    public void MissingDocumentedPath_IsReported()
    {
        Assert.Equal(["src/Workers.Cli/Gone.cs", "docs/gone.md"], PathsIn("see `src/Workers.Cli/Gone.cs` and [gone](docs/gone.md), `Workers:RabbitMq:Uri`, [web](https://example.org/x.md)"));
        Assert.False(PathExists("README.md", "src/Workers.Cli/Gone.cs"));
        Assert.True(PathExists("README.md", "src/Workers.Cli/README.md"));
        Assert.True(PathExists("src/Workers.Templates/README.md", "Orders/SubmitOrderConsumer.cs"));
    }

    /// <summary>Repository paths in a line: code spans naming a top-level folder or a file, and relative links.</summary>
    private static List<string> PathsIn(string line)
    {
        var paths = new List<string>();
        foreach (Match span in PathSpan().Matches(line))
        {
            var path = span.Groups["path"].Value.TrimEnd('.', ',');
            if (!path.Contains('<', StringComparison.Ordinal) && !path.Contains('*', StringComparison.Ordinal))
            {
                paths.Add(path);
            }
        }

        foreach (Match link in RelativeLink().Matches(line))
        {
            paths.Add(link.Groups["path"].Value);
        }

        return paths;
    }

    /// <summary>
    /// Relative to the repository or the document; a path inside a template (`Orders/SubmitOrderConsumer.cs`) is found
    /// anywhere under the document's folder. `compose/.env` is made by the compose README's first command.
    /// </summary>
    private static bool PathExists(string file, string path)
    {
        var folder = Path.GetDirectoryName(Path.Combine(Root, file))!;
        return path == "compose/.env"
            || File.Exists(Path.Combine(Root, path)) || System.IO.Directory.Exists(Path.Combine(Root, path))
            || File.Exists(Path.Combine(folder, path)) || System.IO.Directory.Exists(Path.Combine(folder, path))
            || System.IO.Directory.EnumerateFiles(folder, Path.GetFileName(path), SearchOption.AllDirectories)
                .Any(f => f.Replace('\\', '/').EndsWith("/" + path, StringComparison.Ordinal));
    }

    [GeneratedRegex(@"`(?<path>(?:(?:src|tests|compose|docs|scripts|\.ci)/[^`\s]*|[\w.-]+(?:/[\w.-]+)+\.(?:cs|sh|md|ya?ml|json|props|csproj)))`")]
    private static partial Regex PathSpan();

    [GeneratedRegex(@"\]\((?<path>(?!https?:|mailto:|#)[^)#\s]+)(#[^)]*)?\)")]
    private static partial Regex RelativeLink();

    [Fact]
    public void MarkdownCommands_FindsShellBlocksPlainBlocksIndentedBlocksAndInlineCommands()
    {
        const string text = """
            # Title
            Run `scripts/test.sh`, or `workers publish q --type A.B --body '{}'`; the `workers` command; `dlq list` alone is prose.
            ```bash
            cd compose/kubernetes
            kubectl apply -k .   # a comment
            docker compose -f x.yml run --rm cli \
              dlq list q
            ```
            ```
            dotnet test
            not a command
            workers dlq list <queue> [--limit N]
                    [--json]
            ```
            ```csharp
            workers.Run();
            ```

                dotnet run --project src/X
            """;

        var commands = MarkdownCommands.Parse("x.md", text);

        Assert.Equal(
            [
                "x.md:2 Inline scripts/test.sh", "x.md:2 Inline workers publish q --type A.B --body '{}'",
                "x.md:4 ShellBlock cd compose/kubernetes", "x.md:5 ShellBlock kubectl apply -k .", "x.md:6 ShellBlock docker compose -f x.yml run --rm cli dlq list q",
                "x.md:10 PlainBlock dotnet test", "x.md:12 PlainBlock workers dlq list <queue> [--limit N] [--json]",
                "x.md:19 PlainBlock dotnet run --project src/X",
            ],
            commands.Select(c => $"{c.Location} {c.Source} {c.Text}"));
        Assert.Equal("compose/kubernetes", commands.Single(c => c.Text == "kubectl apply -k .").Directory);
        Assert.True(commands.Single(c => c.Text.StartsWith("workers dlq", StringComparison.Ordinal)).IsSynopsis);
    }

    [Fact]
    public async Task UnknownCommand_FailsNamingItsFileAndLine_AndAnUnmappedEndpointFailsItsCheck()
    {
        var commands = MarkdownCommands.Parse("docs/new.md", "Intro.\n\n```sh\nfrobnicate --all\nworkers dlq list <no-such-placeholder>\ncurl -s http://127.0.0.1:8080/health/readyz\n```\n");

        var plan = DocumentedCommandPlan.For(Root, commands);

        Assert.Equal(2, plan.Unknown.Count);
        var endpoint = Assert.Single(plan.Checks);
        Assert.Contains("/health/readyz is an endpoint of the worker", endpoint.What, StringComparison.Ordinal);
        Assert.Contains("does not contain '\"/health/readyz\"'", await endpoint.Run(), StringComparison.Ordinal);
        Assert.StartsWith("docs/new.md:4: frobnicate --all: the test does not know how to exercise this command", plan.Unknown[0], StringComparison.Ordinal);
        Assert.StartsWith("docs/new.md:5: workers dlq list <no-such-placeholder>: placeholder(s) <no-such-placeholder>", plan.Unknown[1], StringComparison.Ordinal);
    }

    [Fact]
    public void BrokenCliSynopsis_IsRejectedByTheParserCheck()
    {
        var root = CliApp.BuildRootCommand(new CliConsole(TextWriter.Null, TextWriter.Null, TextReader.Null, inputRedirected: false, interactive: false));

        Assert.Null(CheckSynopsis(root, ["dlq", "list", "<queue>", "[--limit", "N]"]));
        Assert.Equal("'workers dlq list' has no option --limt", CheckSynopsis(root, ["dlq", "list", "<queue>", "[--limt", "N]"]));
        Assert.Equal("'workers dlq' has no command 'peek'", CheckSynopsis(root, ["dlq", "peek"]));
    }

    /// <summary>The verb path exists and every <c>--option</c> belongs to the command (or is inherited from the root).</summary>
    private static string? CheckSynopsis(RootCommand root, IReadOnlyList<string> words)
    {
        Command command = root;
        var ancestors = new List<Command> { root };
        var i = 0;
        for (; i < words.Count && Regex.IsMatch(words[i], "^[a-z]+$"); i++)
        {
            var next = command.Subcommands.FirstOrDefault(c => c.Name == words[i] || c.Aliases.Contains(words[i]));
            if (next is null)
            {
                if (command.Subcommands.Count > 0)
                {
                    return $"'{string.Join(' ', ancestors.Skip(1).Select(c => c.Name).Prepend("workers"))}' has no command '{words[i]}'";
                }

                break; // an argument value (a queue name)
            }

            command = next;
            ancestors.Add(next);
        }

        var options = command.Options.Concat(ancestors.SkipLast(1).SelectMany(a => a.Options.Where(o => o.Recursive)))
            .SelectMany(o => o.Aliases.Append(o.Name)).ToHashSet(StringComparer.Ordinal);
        foreach (var word in words.Skip(i))
        {
            foreach (Match option in Regex.Matches(word, @"--[a-z][a-z0-9-]*"))
            {
                if (!options.Contains(option.Value))
                {
                    return $"'{string.Join(' ', ancestors.Skip(1).Select(c => c.Name).Prepend("workers"))}' has no option {option.Value}";
                }
            }
        }

        return null;
    }

    private static HashSet<string> AllOptions(Command command)
    {
        var names = command.Options.SelectMany(o => o.Aliases.Append(o.Name)).ToHashSet(StringComparer.Ordinal);
        foreach (var sub in command.Subcommands)
        {
            names.UnionWith(AllOptions(sub));
        }

        return names;
    }

    /// <summary>The queue a command publishes to, replays into or names for status (declared before it runs).</summary>
    private static string? TargetQueue(IReadOnlyList<string> arguments) => arguments switch
    {
        ["publish", var queue, ..] => queue,
        ["status", var queue, ..] when !queue.StartsWith('-') => queue,
        _ => null,
    };

    /// <summary>The <c>_error</c> queue a dlq command reads (seeded with a dead letter before it runs).</summary>
    private static string? DeadLetterQueue(IReadOnlyList<string> arguments) => arguments switch
    {
        ["dlq", "list" or "show" or "replay" or "purge" or "groups", var queue, ..] when !queue.StartsWith('-') => QueueNames.ErrorQueueOf(queue),
        _ => null,
    };

    /// <summary>Connection options in the docs point at their own services; the test's isolated ones replace them.</summary>
    private static IEnumerable<string> ConnectionOverrides(List<string> arguments, Dictionary<string, string> environment)
    {
        for (var i = 0; i < arguments.Count; i++)
        {
            yield return arguments[i];
            var variable = arguments[i] switch
            {
                "--rabbitmq" => ConnectionSettings.RabbitMqVariable,
                "--management" => ConnectionSettings.ManagementVariable,
                "--postgres" => ConnectionSettings.PostgresVariable,
                _ => null,
            };
            if (variable is not null && i + 1 < arguments.Count)
            {
                yield return environment[variable];
                i++;
            }
        }
    }

    [GeneratedRegex(@"`(?<name>--[a-z][a-z0-9-]*)[^`]*`")]
    private static partial Regex OptionSpan();
}
