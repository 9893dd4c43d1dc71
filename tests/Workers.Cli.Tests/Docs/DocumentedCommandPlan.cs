using System.CommandLine;
using System.Diagnostics;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace Workers.Cli.Tests.Docs;

/// <summary>A <c>workers</c> invocation a document asks for, run by the test in <see cref="Phase"/> order.</summary>
internal sealed record CliRun(DocumentedCommand Command, IReadOnlyList<string> Arguments)
{
    /// <summary>migrate, then publish, status, dlq list, show, groups, replay, purge: each finds what it needs.</summary>
    public int Phase => Arguments.Where(a => !a.StartsWith('-')).Take(2).ToArray() switch
    {
        ["migrate", ..] => 0,
        ["publish", ..] => 1,
        ["status", ..] => 2,
        ["dlq", "list"] => 3,
        ["dlq", "show"] => 4,
        ["dlq", "groups"] => 5,
        ["dlq", "replay"] => 6,
        ["dlq", "purge"] => 7,
        _ => 1,
    };

    public override string ToString() => $"{Command.Location}: workers {string.Join(' ', Arguments)}";
}

/// <summary>A check that needs no broker: a file, a script's verb, where CI runs the command, a rendered manifest.</summary>
internal sealed record StaticCheck(DocumentedCommand Command, string What, Func<Task<string?>> Run);

/// <summary>
/// What the test does with every documented command. Each command is either run (<see cref="Runs"/>), checked
/// (<see cref="Checks"/>), exempt with a reason (<see cref="Exempt"/>), or unknown — and an unknown command fails.
/// </summary>
internal sealed partial class DocumentedCommandPlan
{
    /// <summary>Values for the placeholders of the docs. <c>&lt;message-id&gt;</c> is the dead letter the test seeds.</summary>
    public static readonly IReadOnlyDictionary<string, string> Placeholders = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["<queue>"] = "submit-order",
        ["<command>"] = "--help",
        ["<password>"] = "example-password",
        ["<project>"] = "compose",
        ["<message-id>"] = MessageIdToken,
    };

    /// <summary>Replaced by the id of the dead letter seeded in the command's queue when it runs.</summary>
    public const string MessageIdToken = "{seeded-message-id}";

    /// <summary>
    /// Commands that cannot run here, each with the reason. They are still checked as far as possible (the script
    /// exists and parses, the options exist).
    /// </summary>
    public static readonly IReadOnlyList<(Regex Pattern, string Reason)> Exemptions =
    [
        (new(@"^scripts/demo\.sh$"), "starts the local services and runs the sample under a workload for minutes; not part of CI (the sample it runs is tested end to end by Workers.IntegrationTests)"),
        (new(@"^scripts/bench\.sh( --quick)?$"), "a benchmark: minutes of load, meaningful only on a quiet machine; not run in CI"),
        (new(@"^scripts/dlq-bench\.sh$"), "a benchmark: 20,000 dead letters through the CLI; not run in CI"),
        (new(@"^dotnet run -c Release --project tests/Workers\.Benchmarks -- "), "a benchmark run (minutes); its options are checked against tests/Workers.Benchmarks/BenchSettings.cs"),
        (new(@"^perf record -g$"), "a profiler session by hand (needs perf, root and a long workload)"),
        (new(@"^kill -9$"), "names the fault a test injects into a database or broker process (docs/guarantees.md, the failover notes), not a step for the reader"),
        (new(@"^scripts/check-compose-pgaf\.sh$"), "starts a four-server pg_auto_failover formation (about a minute on 2 cores): run by ComposeFormationTests when WORKERS_COMPOSE_PGAF_CHECK=1"),
    ];

    private static readonly string[] ComposeGlobalOptionsWithValue = ["-f", "--file", "--profile", "-p", "--project-name", "--env-file"];

    private static readonly Dictionary<string, (string[] Flags, string[] WithValue)> ComposeSubcommands = new(StringComparer.Ordinal)
    {
        ["up"] = (["-d", "--detach", "--build", "--no-deps", "--wait", "--force-recreate"], ["--scale"]),
        ["run"] = (["--rm", "-T", "--no-deps", "--build"], ["-u", "--user", "-e", "--entrypoint"]),
        ["exec"] = (["-T"], ["-u", "--user", "-e"]),
        ["logs"] = (["-f", "--follow", "-t"], ["--since", "--tail"]),
        ["stop"] = ([], ["-t", "--timeout"]),
        ["start"] = ([], []),
        ["kill"] = ([], ["-s", "--signal"]),
        ["restart"] = ([], ["-t"]),
        ["rm"] = (["-s", "-f", "-sf", "-fs", "-v"], []),
        ["down"] = (["-v", "--volumes", "--remove-orphans"], []),
        ["ps"] = (["-a"], []),
        ["config"] = (["-q", "--quiet"], []),
        ["build"] = ([], []),
        ["pull"] = ([], []),
    };

    private readonly string root;
    private readonly Dictionary<string, ComposeModel> composeFiles = new(StringComparer.Ordinal);

    private DocumentedCommandPlan(string root, IReadOnlyList<DocumentedCommand> commands)
    {
        this.root = root;
        Commands = commands;
        foreach (var command in commands)
        {
            Classify(command);
        }
    }

    public IReadOnlyList<DocumentedCommand> Commands { get; }

    public List<CliRun> Runs { get; } = [];

    /// <summary><c>workers</c> synopses and references: verb path and option names checked against the CLI's parser.</summary>
    public List<(DocumentedCommand Command, string[] Words)> Synopses { get; } = [];

    public List<StaticCheck> Checks { get; } = [];

    public List<(DocumentedCommand Command, string Reason)> Exempt { get; } = [];

    public List<string> Unknown { get; } = [];

    public static DocumentedCommandPlan For(string root, IReadOnlyList<DocumentedCommand> commands) => new(root, commands);

    /// <summary>Where CI runs a documented command that the test does not run itself: (pattern, file, text that must be in it).</summary>
    public static readonly IReadOnlyList<(Regex Pattern, string File, string Evidence)> RunByCi =
    [
        (new(@"^dotnet test Workers\.sln$"), "scripts/test.sh", "dotnet test Workers.sln"),
        (new(@"^scripts/test\.sh$"), ".ci/run", "\nexec scripts/test.sh\n"),
        (new(@"^\.ci/run$"), ".ci/run", "\nexec scripts/test.sh\n"),
        (new(@"^scripts/pack\.sh( \[dotnet pack arguments\])?$"), "scripts/test.sh", "scripts/pack.sh --no-build"),
        (new(@"^dotnet test tests/Workers\.Packaging\.Tests$"), "Workers.sln", "Workers.Packaging.Tests.csproj"),
        (new(@"^dotnet nuget add source ""\$PWD/artifacts/packages"" --name workers-local$"), "tests/Workers.Packaging.Tests/FreshWorkspace.cs", "new XAttribute(\"key\", \"workers-local\")"),
        (new(@"^dotnet add package WorkersFx\.Hosting$"), "tests/Workers.Packaging.Tests/Apps/worker/Fresh.Worker.csproj", "Include=\"WorkersFx.Hosting\""),
        (new(@"^dotnet add package WorkersFx\.Exporters --prerelease$"), "tests/Workers.Packaging.Tests/Apps/web/Fresh.Web.csproj", "Include=\"WorkersFx.Exporters\""),
        (new(@"^dotnet tool install( --global( --add-source artifacts/packages)? WorkersFx\.Cli)?$"), "tests/Workers.Packaging.Tests/FreshWorkspace.cs", "[\"tool\", \"install\", \"WorkersFx.Cli\""),
        (new(@"^dotnet tool install --tool-path$"), "tests/Workers.Packaging.Tests/FreshWorkspace.cs", "\"--tool-path\""),
        (new(@"^dotnet new( install WorkersFx\.Templates)?$"), "tests/Workers.Packaging.Tests/PackagedAppsTests.cs", "\"new\", \"install\", workspace.TemplatePackage"),
        (new(@"^dotnet new workers-worker( -n Acme\.Orders)?$"), "tests/Workers.Packaging.Tests/PackagedAppsTests.cs", "\"new\", \"workers-worker\", \"-n\", \"Acme.Orders\""),
        (new(@"^cd Acme\.Orders$"), "tests/Workers.Packaging.Tests/PackagedAppsTests.cs", "Path.Combine(workspace.Root, \"template\", \"Acme.Orders\")"),
        (new(@"^dotnet test$"), "tests/Workers.Packaging.Tests/PackagedAppsTests.cs", "DotnetAsync(app, \"test\", \"Acme.Orders.slnx\""),
        (new(@"^dotnet run --project src/Acme\.Orders$"), "tests/Workers.Packaging.Tests/PackagedAppsTests.cs", "Path.Combine(app, \"src\", \"Acme.Orders\", \"bin\""),
        (new(@"^WORKERS_RABBITMQ_URI=amqp://\S+ dotnet run --project src/Company\.Worker$"), "tests/Workers.Packaging.Tests/PackagedAppsTests.cs", "[\"WORKERS_RABBITMQ_URI\"] = vhost.Uri.ToString()"),
        (new(@"^dotnet run --project src/Workers\.Sample$"), "tests/Workers.IntegrationTests/Hosting/WorkerEndpointsTests.cs", "WorkerProcess.ProjectAssembly(\"Workers.Sample\")"),
        (new(@"^docker-compose -f compose/docker-compose\.yml config$"), "tests/Workers.IntegrationTests/Deploy/ComposeFileTests.cs", "\"-f\", file, \"config\"]"),
        (new(@"^git describe --tags --exact-match --match 'v\[0-9\]\*'$"), "scripts/pack.sh", "describe --tags --exact-match --match 'v[0-9]*'"),
        (new(@"^apt-get install rabbitmq-server$"), "scripts/services.sh", "apt_install rabbitmq-server"),
        (new(@"^pg_autoctl show uri$"), "scripts/services.sh", "af_ctl show uri"),
        (new(@"^rabbitmq-diagnostics check_running$"), "compose/docker-compose.yml", "\"rabbitmq-diagnostics\", \"-q\", \"check_running\""),
    ];

    private void Classify(DocumentedCommand command)
    {
        var text = command.Text;
        if (command.IsSynopsis && MarkdownCommands.ProgramOf(text) == "workers")
        {
            ClassifyWorkers(command, ShellWords.Split(text).Skip(1).ToList());
            return;
        }

        if (text.Contains("...", StringComparison.Ordinal) || text.Contains('…', StringComparison.Ordinal))
        {
            // "docker-compose -f compose/docker-compose.yml ..." stands for the commands above: check what is given.
            if (command.Source == CommandSource.Inline && Regex.IsMatch(text, @"^docker-compose -f (\S+) \.\.\.$"))
            {
                var file = Regex.Match(text, @"-f (\S+)").Groups[1].Value;
                Check(command, $"compose file {file} exists", () => Task.FromResult(File.Exists(Path.Combine(root, file)) ? null : $"{file} does not exist"));
                return;
            }

            Unknown.Add($"{command}: '…' stands for something the reader must fill in; write a value that works when typed (or a <placeholder> the test knows)");
            return;
        }

        foreach (var (pattern, reason) in Exemptions)
        {
            if (pattern.IsMatch(text))
            {
                Exempt.Add((command, reason));
                AddExemptChecks(command);
                return;
            }
        }

        foreach (var (pattern, file, evidence) in RunByCi)
        {
            if (pattern.IsMatch(text))
            {
                Check(command, $"CI runs it: {file} contains '{evidence.Replace("\n", "\\n", StringComparison.Ordinal)}'", () => Task.FromResult(Contains(file, evidence)));
                AddScriptChecks(command);
                AddProjectCheck(command);
                return;
            }
        }

        var words = ShellWords.Split(text);
        var program = MarkdownCommands.ProgramOf(text);
        switch (program)
        {
            case "workers":
                ClassifyWorkers(command, words.SkipWhile(w => w != "workers").Skip(1).ToList());
                return;
            case "dotnet" when words is ["dotnet", "run", "--project", "src/Workers.Cli", "--", ..]:
                Check(command, "src/Workers.Cli exists", () => Task.FromResult(File.Exists(Path.Combine(root, "src/Workers.Cli/Workers.Cli.csproj")) ? null : "src/Workers.Cli/Workers.Cli.csproj does not exist"));
                ClassifyWorkers(command, words.Skip(5).ToList());
                return;
            case "docker" when words.Count > 1 && words[1] == "compose":
                ClassifyCompose(command, words.Skip(2).ToList());
                return;
            case "docker-compose":
                ClassifyCompose(command, words.Skip(1).ToList());
                return;
            case "docker" when words is ["docker", "volume", "rm", var volume]:
                ClassifyVolume(command, volume);
                return;
            case "kubectl":
                ClassifyKubectl(command, words.Skip(1).ToList());
                return;
            case "kustomize" when words is ["kustomize", "edit", "set", "image", ..]:
                ClassifyKustomizeSetImage(command, words.Skip(4).ToList());
                return;
            case "cd" when words.Count == 2:
                var target = MarkdownCommands.CombineRelative(command.Directory, words[1]);
                Check(command, $"directory {target} exists", () => Task.FromResult(System.IO.Directory.Exists(Path.Combine(root, target)) ? null : $"directory {target} does not exist"));
                return;
            case "cp" when words.Count == 3:
                ClassifyCopy(command, words[1], words[2]);
                return;
            case "echo":
                return; // prints its arguments
            case "curl" when words.LastOrDefault(w => w.StartsWith("http", StringComparison.Ordinal)) is { } url && Uri.TryCreate(url, UriKind.Absolute, out var uri):
                ClassifyHttp(command, uri);
                return;
            default:
                break;
        }

        if (program == "scripts/services.sh")
        {
            ClassifyServices(command, words.SkipWhile(w => w != "scripts/services.sh").ToList(), words.TakeWhile(w => w != "scripts/services.sh").ToList());
            return;
        }

        Unknown.Add($"{command}: the test does not know how to exercise this command; run it, match it to where CI runs it, or exempt it with a reason (tests/Workers.Cli.Tests/Docs/DocumentedCommandPlan.cs)");
    }

    private void ClassifyWorkers(DocumentedCommand command, List<string> arguments)
    {
        var unresolved = arguments.SelectMany(a => Placeholder().Matches(a)).Select(m => m.Value).Where(p => !Placeholders.ContainsKey(p)).ToList();
        // A synopsis, or an inline `workers migrate` / `workers dlq groups` that names a verb in prose: the verb path and
        // options are checked against the parser. A full invocation (arguments, options: `workers --help`) runs.
        if (command.IsSynopsis || (command.Source == CommandSource.Inline && arguments.Count > 0 && arguments.All(a => Regex.IsMatch(a, "^[a-z]+$"))))
        {
            Synopses.Add((command, [.. arguments]));
            return;
        }

        if (unresolved.Count > 0)
        {
            Unknown.Add($"{command}: placeholder(s) {string.Join(", ", unresolved)} have no value in DocumentedCommandPlan.Placeholders");
            return;
        }

        Runs.Add(new CliRun(command, arguments.Select(Substitute).ToList()));
    }

    private static string Substitute(string word)
    {
        foreach (var (placeholder, value) in Placeholders)
        {
            word = word.Replace(placeholder, value, StringComparison.Ordinal);
        }

        return word;
    }

    private void ClassifyServices(DocumentedCommand command, List<string> words, List<string> assignments)
    {
        Check(command, "scripts/services.sh exists and parses", () => ScriptParsesAsync("scripts/services.sh"));
        foreach (var assignment in assignments)
        {
            var name = assignment.Split('=')[0];
            Check(command, $"scripts/services.sh reads {name}", () => Task.FromResult(Contains("scripts/services.sh", name)));
        }

        // `up|down|...` lists the verbs; every one must be a case of the script (never run here: the services are shared).
        var verbs = words.Count > 1 ? words[1].Split('|') : [];
        if (verbs.Length == 0)
        {
            Unknown.Add($"{command}: scripts/services.sh without a verb");
            return;
        }

        foreach (var verb in verbs)
        {
            Check(command, $"scripts/services.sh handles '{verb}'", () => Task.FromResult(
                Regex.IsMatch(File.ReadAllText(Path.Combine(root, "scripts/services.sh")), $@"^\s*(\S+\|)*{Regex.Escape(verb)}(\|\S+)*\)", RegexOptions.Multiline)
                    ? null : $"scripts/services.sh has no '{verb})' case"));
        }
    }

    private void AddExemptChecks(DocumentedCommand command)
    {
        AddScriptChecks(command);
        var words = ShellWords.Split(command.Text);
        if (words is ["dotnet", "run", "-c", "Release", "--project", "tests/Workers.Benchmarks", "--", ..])
        {
            foreach (var option in words.Skip(7).Where(w => w.StartsWith("--", StringComparison.Ordinal)))
            {
                Check(command, $"the benchmark program knows {option}", () => Task.FromResult(
                    System.IO.Directory.EnumerateFiles(Path.Combine(root, "tests/Workers.Benchmarks"), "*.cs", SearchOption.AllDirectories).Any(f => File.ReadAllText(f).Contains($"\"{option}\"", StringComparison.Ordinal))
                        ? null : $"no source file of tests/Workers.Benchmarks parses \"{option}\""));
            }
        }
    }

    private void AddScriptChecks(DocumentedCommand command)
    {
        var script = ShellWords.Split(command.Text).FirstOrDefault(w => w.StartsWith("scripts/", StringComparison.Ordinal) || w.StartsWith(".ci/", StringComparison.Ordinal));
        if (script is not null)
        {
            Check(command, $"{script} exists, is executable and parses", () => ScriptParsesAsync(script));
        }
    }

    // `dotnet run --project src/X`: the project exists where the reader types it (a folder the docs create, such as
    // the project `dotnet new` makes, is checked by the CI evidence instead).
    private void AddProjectCheck(DocumentedCommand command)
    {
        var words = ShellWords.Split(command.Text);
        var index = words.ToList().IndexOf("--project");
        if (index < 0 || index + 1 >= words.Count || !System.IO.Directory.Exists(Path.Combine(root, command.Directory)))
        {
            return;
        }

        var project = MarkdownCommands.CombineRelative(command.Directory, words[index + 1]);
        Check(command, $"project {project} exists", () => Task.FromResult(
            System.IO.Directory.Exists(Path.Combine(root, project)) || File.Exists(Path.Combine(root, project)) ? null : $"{project} does not exist"));
    }

    // `curl http://127.0.0.1:8080/health/ready`: a worker's endpoint, which needs a running worker; the path must be
    // one the framework maps (WorkersHealth's paths).
    private void ClassifyHttp(DocumentedCommand command, Uri uri)
    {
        const string paths = "src/Workers.Hosting/Health/WorkersHealth.cs";
        Check(command, $"{uri.AbsolutePath} is an endpoint of the worker ({paths})", () => Task.FromResult(
            uri.AbsolutePath == "/" ? $"the test does not know what {uri} answers" : Contains(paths, $"\"{uri.AbsolutePath}\"")));
    }

    private void ClassifyCopy(DocumentedCommand command, string source, string target)
    {
        Check(command, $"{source} exists", () => Task.FromResult(File.Exists(Path.Combine(root, command.Directory, source)) ? null : $"{source} does not exist"));
        if (target.EndsWith(".env", StringComparison.Ordinal))
        {
            Check(command, $"{target} is ignored by git (it holds the secrets)", () => Task.FromResult(Contains(".gitignore", target)));
        }
    }

    private void ClassifyVolume(DocumentedCommand command, string volume)
    {
        var name = Substitute(volume);
        var project = Placeholders["<project>"] + "_";
        Check(command, $"volume {volume} is declared in compose/docker-compose.yml", () =>
        {
            var compose = Compose("compose/docker-compose.yml");
            return Task.FromResult(compose is null ? "compose/docker-compose.yml does not exist"
                : !name.StartsWith(project, StringComparison.Ordinal) || !compose.Volumes.Contains(name[project.Length..]) ? $"no volume '{name}' (project '{project[..^1]}': volumes {string.Join(", ", compose.Volumes)})"
                : null);
        });
    }

    private void ClassifyCompose(DocumentedCommand command, List<string> words)
    {
        var file = Path.Combine(command.Directory, "compose.yaml").Replace('\\', '/');
        var profiles = new List<string>();
        var i = 0;
        for (; i < words.Count && words[i].StartsWith('-'); i++)
        {
            if (!ComposeGlobalOptionsWithValue.Contains(words[i]) || i + 1 >= words.Count)
            {
                Unknown.Add($"{command}: unknown docker compose option '{words[i]}'");
                return;
            }

            if (words[i] is "-f" or "--file")
            {
                file = MarkdownCommands.CombineRelative(command.Directory, words[i + 1]);
            }
            else if (words[i] == "--profile")
            {
                profiles.Add(words[i + 1]);
            }

            i++;
        }

        if (i >= words.Count || !ComposeSubcommands.TryGetValue(words[i], out var sub))
        {
            Unknown.Add($"{command}: unknown docker compose command '{(i < words.Count ? words[i] : string.Empty)}'");
            return;
        }

        var verb = words[i++];
        var scaled = new List<string>();
        for (; i < words.Count && words[i].StartsWith('-'); i++)
        {
            if (sub.WithValue.Contains(words[i]) && i + 1 < words.Count)
            {
                if (words[i] == "--scale")
                {
                    scaled.Add(words[i + 1].Split('=')[0]);
                }

                i++;
            }
            else if (!sub.Flags.Contains(words[i]))
            {
                Unknown.Add($"{command}: 'docker compose {verb}' has no option '{words[i]}' the test knows");
                return;
            }
        }

        var rest = words.Skip(i).ToList();
        var services = verb is "run" or "exec" ? rest.Take(1).ToList() : rest;
        var composeFile = file;
        Check(command, $"{composeFile} has the services {string.Join(", ", services.Concat(scaled))}", () =>
        {
            var compose = Compose(composeFile);
            if (compose is null)
            {
                return Task.FromResult<string?>($"{composeFile} does not exist");
            }

            var problems = new List<string>();
            foreach (var service in services.Concat(scaled))
            {
                if (!compose.Services.TryGetValue(service, out var model))
                {
                    problems.Add($"no service '{service}' in {composeFile} (services: {string.Join(", ", compose.Services.Keys)})");
                }
                else if (model.Profiles.Count > 0 && !model.Profiles.Any(profiles.Contains) && services.Contains(service))
                {
                    problems.Add($"service '{service}' is in profile {string.Join("/", model.Profiles)}: the command needs --profile {model.Profiles[0]}");
                }
            }

            return Task.FromResult(problems.Count == 0 ? null : string.Join("; ", problems));
        });

        if (verb is "up" or "run" && words.Contains("--build"))
        {
            Check(command, $"every image {composeFile} builds has its Dockerfile", () => Task.FromResult(
                Compose(composeFile) is { } compose && compose.Services.Values.Select(s => s.Dockerfile).OfType<string>().Distinct(StringComparer.Ordinal).Where(d => !File.Exists(Path.Combine(root, d))).ToList() is { Count: > 0 } missing
                    ? $"missing Dockerfile(s): {string.Join(", ", missing)}" : null));
        }

        if (verb == "exec" && rest.Count > 1)
        {
            foreach (var path in rest.Skip(1).Where(w => w.StartsWith("/usr/local/bin/", StringComparison.Ordinal)))
            {
                Check(command, $"the image of '{rest[0]}' has {path}", () =>
                {
                    var dockerfile = Compose(composeFile)?.Services.GetValueOrDefault(rest[0])?.Dockerfile;
                    return Task.FromResult(dockerfile is null ? $"service '{rest[0]}' builds no image of this repository" : Contains(dockerfile, path));
                });
            }
        }

        if (verb == "run" && rest.Count > 0)
        {
            // The CLI's services: the documented arguments (or the service's own command) run through the real CLI.
            var model = Compose(composeFile)?.Services.GetValueOrDefault(rest[0]);
            if (model is { IsCli: true })
            {
                var arguments = rest.Count > 1 ? rest.Skip(1).ToList() : model.Command.ToList();
                ClassifyWorkers(command with { Source = CommandSource.ShellBlock }, arguments);
            }
        }
    }

    private void ClassifyKubectl(DocumentedCommand command, List<string> words)
    {
        var folder = System.IO.File.Exists(Path.Combine(root, command.Directory, "kustomization.yaml")) ? command.Directory : Path.GetDirectoryName(command.File)!.Replace('\\', '/');
        switch (words)
        {
            case ["kustomize", var dir]:
                Check(command, $"kubectl kustomize {dir} renders", async () => (await OfflineTools.RenderAsync(root, MarkdownCommands.CombineRelative(command.Directory, dir))).Error);
                return;
            case ["kustomize"] or ["apply", "-k"]:
                Check(command, $"kubectl kustomize {folder} renders", async () => (await OfflineTools.RenderAsync(root, folder)).Error);
                return;
            case ["apply", "-k", var dir]:
                var target = MarkdownCommands.CombineRelative(command.Directory, dir);
                Check(command, $"kubectl kustomize {target} renders (what apply -k applies)", async () => (await OfflineTools.RenderAsync(root, target)).Error);
                return;
            case ["create", "secret", "generic", var name, ..]:
                var keys = words.Where(w => w.StartsWith("--from-literal=", StringComparison.Ordinal)).Select(w => w["--from-literal=".Length..].Split('=')[0]).ToList();
                var arguments = words.Select(Substitute).Concat(["--dry-run=client", "-o", "yaml"]).ToList();
                Check(command, "kubectl accepts it (--dry-run=client)", () => OfflineTools.RunKubectlAsync(arguments));
                Check(command, $"the manifests read Secret {name} keys {string.Join(", ", keys)}", async () =>
                {
                    var rendered = await OfflineTools.RenderAsync(root, folder);
                    if (rendered.Error is not null || rendered.Text is null)
                    {
                        return rendered.Error;
                    }

                    var missing = keys.Where(k => !rendered.Text.Contains($"key: {k}", StringComparison.Ordinal)).ToList();
                    return !rendered.Text.Contains($"name: {name}", StringComparison.Ordinal) ? $"no object reads Secret '{name}'"
                        : missing.Count > 0 ? $"no object reads key(s) {string.Join(", ", missing)} of Secret '{name}'" : null;
                });
                return;
            case ["wait", ..] or ["rollout", "status", ..]:
                foreach (var reference in words.Where(w => Regex.IsMatch(w, @"^[a-z]+/[a-z0-9-]+$")))
                {
                    var (kind, name) = (reference.Split('/')[0], reference.Split('/')[1]);
                    Check(command, $"the manifests have {reference}", async () => await OfflineTools.HasObjectAsync(root, folder, kind, name));
                }

                return;
            case ["get", var kinds, "-l", var selector]:
                Check(command, $"the manifests carry the label {selector}", async () =>
                {
                    var rendered = await OfflineTools.RenderAsync(root, folder);
                    var (key, value) = (selector.Split('=')[0], selector.Split('=')[1]);
                    return rendered.Error ?? (rendered.Text!.Contains($"{key}: {value}", StringComparison.Ordinal) ? null : $"no object is labelled {selector}");
                });
                foreach (var kind in kinds.Split(',').Where(k => k is "scaledobject" or "pdb" or "deployment" or "job"))
                {
                    Check(command, $"the manifests have a {kind}", async () => await OfflineTools.HasObjectAsync(root, folder, kind, name: null));
                }

                return;
            default:
                Unknown.Add($"{command}: the test does not know how to check 'kubectl {string.Join(' ', words.Take(2))}'");
                return;
        }
    }

    private void ClassifyKustomizeSetImage(DocumentedCommand command, List<string> images)
    {
        foreach (var image in images)
        {
            var name = image.Split('=')[0];
            Check(command, $"the manifests use image {name}", async () =>
            {
                var rendered = await OfflineTools.RenderAsync(root, command.Directory);
                return rendered.Error ?? (Regex.IsMatch(rendered.Text!, $@"image: {Regex.Escape(name)}(:|$)", RegexOptions.Multiline) ? null : $"no container uses image '{name}'");
            });
        }
    }

    private void Check(DocumentedCommand command, string what, Func<Task<string?>> run) => Checks.Add(new StaticCheck(command, what, run));

    private string? Contains(string file, string evidence)
    {
        var path = Path.Combine(root, file);
        return !File.Exists(path) ? $"{file} does not exist"
            : File.ReadAllText(path).Contains(evidence, StringComparison.Ordinal) ? null
            : $"{file} does not contain '{evidence}': the command is no longer run where the test expects; run it there again or update the table";
    }

    private async Task<string?> ScriptParsesAsync(string script)
    {
        var path = Path.Combine(root, script);
        if (!File.Exists(path))
        {
            return $"{script} does not exist";
        }

        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & UnixFileMode.UserExecute) == 0)
        {
            return $"{script} is not executable";
        }

        var (exitCode, output) = await OfflineTools.RunAsync("bash", ["-n", path]);
        return exitCode == 0 ? null : $"bash -n {script}: {output}";
    }

    private ComposeModel? Compose(string file)
    {
        if (!composeFiles.TryGetValue(file, out var model))
        {
            var path = Path.Combine(root, file);
            model = File.Exists(path) ? ComposeModel.Load(root, path) : null;
            if (model is not null)
            {
                composeFiles[file] = model;
            }
        }

        return model;
    }

    [GeneratedRegex(@"<[^<>\s]+>")]
    private static partial Regex Placeholder();
}

/// <summary>The parts of a compose file the checks read: services (profiles, command, image), volumes.</summary>
internal sealed class ComposeModel
{
    public required IReadOnlyDictionary<string, ComposeService> Services { get; init; }

    public required IReadOnlySet<string> Volumes { get; init; }

    public static ComposeModel Load(string root, string path)
    {
        var root2 = new DeserializerBuilder().Build().Deserialize<Dictionary<object, object>>(new MergingParser(new Parser(new StringReader(File.ReadAllText(path)))));
        var services = new Dictionary<string, ComposeService>(StringComparer.Ordinal);
        foreach (var (key, value) in (Dictionary<object, object>)root2["services"])
        {
            var service = (Dictionary<object, object>)value;
            var profiles = service.TryGetValue("profiles", out var p) && p is List<object> list ? list.Cast<string>().ToList() : [];
            var command = service.TryGetValue("command", out var c) && c is List<object> words ? words.Cast<string>().ToList() : c is string s ? [.. ShellWords.Split(s)] : [];
            var image = service.TryGetValue("image", out var i) ? i as string : null;
            string? dockerfile = null;
            if (service.TryGetValue("build", out var b) && b is Dictionary<object, object> or string)
            {
                var build = b as Dictionary<object, object> ?? new Dictionary<object, object> { ["context"] = b };
                var context = build.TryGetValue("context", out var ctx) ? (string)ctx : ".";
                var file = build.TryGetValue("dockerfile", out var df) ? (string)df : "Dockerfile";
                dockerfile = Path.GetRelativePath(root, Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, context, file))).Replace('\\', '/');
            }

            services[(string)key] = new ComposeService(profiles, command, image, dockerfile);
        }

        // A service without a build of its own that uses another's image builds from that one's Dockerfile.
        foreach (var (name, service) in services.Where(s => s.Value.Dockerfile is null && s.Value.Image is not null).ToList())
        {
            var builder = services.Values.FirstOrDefault(o => o.Image == service.Image && o.Dockerfile is not null);
            services[name] = service with { Dockerfile = builder?.Dockerfile };
        }

        var volumes = root2.TryGetValue("volumes", out var v) && v is Dictionary<object, object> map ? map.Keys.Cast<string>().ToHashSet(StringComparer.Ordinal) : [];
        return new ComposeModel { Services = services, Volumes = volumes };
    }
}

/// <summary>A compose service: its profiles, command, image and (for images built here) Dockerfile.</summary>
internal sealed record ComposeService(IReadOnlyList<string> Profiles, IReadOnlyList<string> Command, string? Image, string? Dockerfile)
{
    /// <summary>The <c>workers</c> CLI image (compose/Dockerfile.cli).</summary>
    public bool IsCli => Dockerfile?.EndsWith("Dockerfile.cli", StringComparison.Ordinal) == true;
}

/// <summary>Tools run offline: <c>kubectl kustomize</c> renders, <c>kubectl … --dry-run=client</c> checks arguments, <c>bash -n</c> parses.</summary>
internal static class OfflineTools
{
    private static readonly Dictionary<string, Task<(string? Text, string? Error)>> Rendered = new(StringComparer.Ordinal);

    public static string? Kubectl { get; } = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(folder => Path.Combine(folder, "kubectl"))
        .FirstOrDefault(File.Exists);

    public static Task<(string? Text, string? Error)> RenderAsync(string root, string folder)
    {
        lock (Rendered)
        {
            if (!Rendered.TryGetValue(folder, out var task))
            {
                task = Rendered[folder] = RenderOnceAsync(root, folder);
            }

            return task;
        }
    }

    public static async Task<string?> HasObjectAsync(string root, string folder, string kind, string? name)
    {
        var (text, error) = await RenderAsync(root, folder);
        if (error is not null)
        {
            return error;
        }

        var kinds = new Dictionary<string, string>(StringComparer.Ordinal) { ["job"] = "Job", ["deployment"] = "Deployment", ["pdb"] = "PodDisruptionBudget", ["scaledobject"] = "ScaledObject" };
        if (!kinds.TryGetValue(kind, out var kindName))
        {
            return $"the test does not know the kind '{kind}'";
        }

        foreach (var document in text!.Split("\n---\n"))
        {
            if (Regex.IsMatch(document, $@"^kind: {kindName}$", RegexOptions.Multiline)
                && (name is null || Regex.IsMatch(document, $@"^metadata:\n(  .*\n)*?  name: {Regex.Escape(name)}$", RegexOptions.Multiline)))
            {
                return null;
            }
        }

        return $"no {kindName}{(name is null ? string.Empty : $" named '{name}'")} in {folder}";
    }

    public static async Task<string?> RunKubectlAsync(IReadOnlyList<string> arguments)
    {
        if (Kubectl is null)
        {
            return null; // reported once by the test: kubectl is not installed
        }

        var (exitCode, output) = await RunAsync(Kubectl, arguments);
        return exitCode == 0 ? null : $"kubectl {string.Join(' ', arguments)}: exit {exitCode}: {output}";
    }

    public static async Task<(int ExitCode, string Output)> RunAsync(string program, IReadOnlyList<string> arguments, string? directory = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = directory ?? Environment.CurrentDirectory };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"{program} did not exit within 30 s");
        }

        return (process.ExitCode, process.ExitCode == 0 ? await output : (await error).Trim());
    }

    private static async Task<(string? Text, string? Error)> RenderOnceAsync(string root, string folder)
    {
        if (!File.Exists(Path.Combine(root, folder, "kustomization.yaml")))
        {
            return (null, $"{folder} has no kustomization.yaml");
        }

        if (Kubectl is null)
        {
            // Without kubectl the kustomization is at least read: every resource it lists exists.
            var text = await File.ReadAllTextAsync(Path.Combine(root, folder, "kustomization.yaml"));
            return (string.Concat(Regex.Matches(text, @"^  - (\S+\.yaml)$", RegexOptions.Multiline).Select(m => File.ReadAllText(Path.Combine(root, folder, m.Groups[1].Value)) + "\n---\n")), null);
        }

        var (exitCode, output) = await RunAsync(Kubectl, ["kustomize", Path.Combine(root, folder)]);
        return exitCode == 0 ? (output, null) : (null, $"kubectl kustomize {folder}: exit {exitCode}: {output}");
    }
}
