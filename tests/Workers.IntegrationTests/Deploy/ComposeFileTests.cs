using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Workers.Hosting;
using Workers.Sample.Payments;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Deploy;

/// <summary>
/// The deployment files (compose/, the Dockerfiles, .dockerignore) checked offline: no Docker engine is needed.
/// `docker-compose config` validates the file when the tool is installed (scripts/test.sh installs it).
/// </summary>
public sealed partial class ComposeFileTests
{
    private static readonly string[] RabbitNodes = ["rabbit1", "rabbit2", "rabbit3"];
    private static readonly string[] PgafNodes = ["node1", "node2", "node3"];
    private static readonly string[] PgafServices = ["monitor", .. PgafNodes];

    // Variables the worker reads besides its bound sections (Workers:*, Sample:Payment:*), and why.
    private static readonly string[] AllowedVariables =
    [
        RabbitMqOptions.UriVariable, // WORKERS_RABBITMQ_URI: overrides Workers:RabbitMq:Uri (read by AddWorkers).
        "WORKERS_POSTGRES",           // the outbox/inbox connection string (Workers.Postgres, the CLI).
        "ASPNETCORE_HTTP_PORTS",      // Kestrel's listening port for /health/* and /metrics.
    ];

    private static readonly string[] AllowedPrefixes =
    [
        "OTEL_",     // OpenTelemetry SDK: OTEL_EXPORTER_OTLP_ENDPOINT switches OTLP export on, OTEL_SERVICE_NAME names the resource.
        "DOTNET_",   // the .NET host: DOTNET_ENVIRONMENT (environment name), DOTNET_* runtime settings.
        "Logging__", // the Logging configuration section (levels per category).
    ];

    private readonly ComposeFile compose = ComposeFile.Load();

    [Fact]
    public async Task DockerComposeConfig_AcceptsTheFile_AndRefusesMissingSecrets()
    {
        if (!File.Exists("/usr/bin/docker-compose") && !File.Exists("/usr/local/bin/docker-compose"))
        {
            Assert.Skip("docker-compose is not installed (scripts/test.sh installs it with apt-get when run as root).");
        }

        var emptyEnvFile = Path.GetTempFileName();
        try
        {
            var file = Path.Combine(compose.Folder, "docker-compose.yml");
            var secrets = Secrets();
            var output = await LocalRabbitMqCluster.RunAsync("docker-compose", ["--env-file", emptyEnvFile, "-f", file, "config"], TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken, secrets);
            Assert.Contains("rabbitmq:3.13-management", output, StringComparison.Ordinal);
            Assert.Contains("replicas: 3", output, StringComparison.Ordinal);
            Assert.Contains("Workers__Endpoints__submit-order__QueueType: Quorum", output, StringComparison.Ordinal);

            // Without its secrets the file is refused, naming what is missing (no silent empty password).
            var missing = new Dictionary<string, string>(secrets) { ["WORKER_RABBITMQ_PASSWORD"] = string.Empty };
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
                LocalRabbitMqCluster.RunAsync("docker-compose", ["--env-file", emptyEnvFile, "-f", file, "config"], TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken, missing));
            Assert.Contains("WORKER_RABBITMQ_PASSWORD", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(emptyEnvFile);
        }
    }

    [Fact]
    public void Topology_HasThreeRabbitNodes_AFailoverMonitorAndThreePostgresNodes_ReplicatedWorkers_AndHealthGatedStartup()
    {
        var services = compose.Services;

        foreach (var node in RabbitNodes)
        {
            var service = services[node];
            Assert.Equal("rabbitmq:3.13-management", ComposeFile.Scalar(service, "image"));
            Assert.Equal(node, ComposeFile.Scalar(service, "hostname"));
            Assert.Contains(ComposeFile.Strings(service["volumes"]), v => v.EndsWith(":/etc/rabbitmq/conf.d/20-cluster.conf:ro", StringComparison.Ordinal));
            Assert.False(service.ContainsKey("depends_on"), $"{node}: cluster nodes must start in parallel (a restarting node waits for its peers).");
        }

        var cluster = File.ReadAllText(Path.Combine(compose.Folder, "rabbitmq", "cluster.conf"));
        Assert.Contains("cluster_formation.peer_discovery_backend = classic_config", cluster, StringComparison.Ordinal);
        Assert.All(RabbitNodes, n => Assert.Contains($"= rabbit@{n}", cluster, StringComparison.Ordinal));

        // PostgreSQL: a pg_auto_failover monitor and three nodes from the image of compose/postgres/Dockerfile.
        Assert.False(services.ContainsKey("postgres") || services.ContainsKey("postgres-standby"), "the hand-promoted primary/standby pair is gone");
        foreach (var (name, role) in PgafServices.Select(n => (n, n == "monitor" ? "monitor" : "node")))
        {
            var service = services[name];
            Assert.Equal("./postgres", ComposeFile.Scalar(service, "build", "context"));
            Assert.Equal(new[] { role }, ComposeFile.Strings(service["command"]));
            Assert.Equal(name, ComposeFile.Scalar(service, "hostname"));
            Assert.Equal(role, ComposeFile.Environment(service)["PGAF_ROLE"]);
            Assert.Equal(new[] { "/usr/local/bin/pgaf.sh", "health" }, ComposeFile.Strings(ComposeFile.Map(service["healthcheck"])["test"]).Skip(1));
            var data = Assert.Single(ComposeFile.Strings(service["volumes"]), v => v.EndsWith(":/var/lib/postgresql/data", StringComparison.Ordinal));
            Assert.Equal($"pgaf-{name}-data", data.Split(':')[0]);
            if (role == "node")
            {
                Assert.Equal(name, ComposeFile.Environment(service)["PGAF_NAME"]);
                // Nodes start in parallel, gated on the monitor only: the primary may be any of them after a restart.
                var nodeDependsOn = ComposeFile.Map(service["depends_on"]);
                Assert.Equal(new[] { "monitor" }, nodeDependsOn.Keys.Cast<string>());
                Assert.Equal("service_healthy", ComposeFile.Scalar(nodeDependsOn, "monitor", "condition"));
            }
        }

        Assert.Equal(new[] { "init-app" }, ComposeFile.Strings(services["postgres-init"]["command"]));
        Assert.Equal("no", ComposeFile.Scalar(services["postgres-init"], "restart"));
        Assert.All(PgafNodes, n => Assert.Equal("service_healthy", ComposeFile.Scalar(ComposeFile.Map(services["postgres-init"]["depends_on"]), n, "condition")));

        // Nothing waits for (or links to) a service that no longer exists.
        foreach (var (name, service) in services)
        {
            if (service.TryGetValue("depends_on", out var dependencies))
            {
                Assert.All(ComposeFile.Map(dependencies).Keys.Cast<string>(), d => Assert.True(services.ContainsKey(d), $"{name} depends on {d}, which is not a service"));
            }
        }

        var worker = services["worker"];
        var replicas = int.Parse(ComposeFile.Interpolate(ComposeFile.Scalar(worker, "deploy", "replicas")!), CultureInfo.InvariantCulture);
        Assert.True(replicas >= 2, $"the workers run replicated (replicas: {replicas})");
        Assert.Equal("compose/Dockerfile", ComposeFile.Scalar(worker, "build", "dockerfile"));
        var dependsOn = ComposeFile.Map(worker["depends_on"]);
        Assert.Equal("service_completed_successfully", ComposeFile.Scalar(dependsOn, "rabbitmq-init", "condition"));
        // The workers and the migration wait for the whole formation (every node primary or secondary) and the app database.
        foreach (var dependent in new[] { "worker", "migrate" })
        {
            var dependencies = ComposeFile.Map(services[dependent]["depends_on"]);
            Assert.All(PgafNodes, n => Assert.Equal("service_healthy", ComposeFile.Scalar(dependencies, n, "condition")));
            Assert.Equal("service_completed_successfully", ComposeFile.Scalar(dependencies, "postgres-init", "condition"));
        }

        Assert.All(RabbitNodes, n => Assert.Equal("service_healthy", ComposeFile.Scalar(ComposeFile.Map(services["rabbitmq-init"]["depends_on"]), n, "condition")));

        // Every endpoint of the workers runs on a quorum queue.
        var environment = ComposeFile.Environment(worker);
        Assert.Equal("Quorum", environment["Workers__Endpoints__submit-order__QueueType"]);
        Assert.Equal("Quorum", environment["Workers__Endpoints__order-accepted__QueueType"]);

        // Long-running services have a healthcheck; one-shot tools sit behind a profile.
        foreach (var (name, service) in services)
        {
            var oneShot = ComposeFile.Scalar(service, "restart") == "no";
            if (!oneShot && !service.ContainsKey("profiles"))
            {
                Assert.True(service.ContainsKey("healthcheck") && ComposeFile.Map(service["healthcheck"]).ContainsKey("test"), $"{name} has no healthcheck");
            }
        }

        foreach (var tool in new[] { "migrate", "publish" })
        {
            Assert.Contains("tools", ComposeFile.Strings(services[tool]["profiles"]));
            Assert.Equal("no", ComposeFile.Scalar(services[tool], "restart"));
        }

        Assert.Equal("migrate", ComposeFile.Strings(services["migrate"]["command"])[0]);
        Assert.Equal("publish", ComposeFile.Strings(services["publish"]["command"])[0]);

        // Data lives in named volumes, all declared.
        foreach (var (name, service) in services)
        {
            if (!service.TryGetValue("volumes", out var volumes))
            {
                continue;
            }

            foreach (var source in ComposeFile.Strings(volumes).Select(v => v.Split(':')[0]).Where(s => !s.StartsWith('.') && !s.StartsWith('/')))
            {
                Assert.True(compose.DeclaredVolumes.Contains(source), $"{name}: volume {source} is not declared");
            }
        }

        Assert.All(RabbitNodes.Select(n => $"{n}-data").Concat(PgafServices.Select(n => $"pgaf-{n}-data")), v => Assert.Contains(v, compose.DeclaredVolumes));
    }

    [Fact]
    public void WorkerStop_GivesInFlightMessagesTheirShutdownTimeout_BeforeSigkill()
    {
        var worker = compose.Services["worker"];
        var shutdown = TimeSpan.Parse(ComposeFile.Environment(worker)["Workers__ShutdownTimeout"], CultureInfo.InvariantCulture);
        var grace = ComposeFile.Duration(ComposeFile.Scalar(worker, "stop_grace_period")!);

        Assert.Equal("SIGTERM", ComposeFile.Scalar(worker, "stop_signal"));
        // The host adds its own margin after the bus's drain; leave at least 10 s beyond the drain.
        Assert.True(grace >= shutdown + TimeSpan.FromSeconds(10), $"stop_grace_period {grace} must exceed Workers__ShutdownTimeout {shutdown} by 10 s");
    }

    [Fact]
    public void WorkerEnvironment_SetsOnlySettingsTheWorkerReads()
    {
        var environment = ComposeFile.Environment(compose.Services["worker"], required: "secret");
        var workers = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var payment = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var unknown = new List<string>();

        foreach (var (name, value) in environment)
        {
            // The environment-variables configuration provider turns "__" into ":".
            var key = name.Replace("__", ":", StringComparison.Ordinal);
            if (key.StartsWith(WorkersOptions.SectionName + ":", StringComparison.OrdinalIgnoreCase))
            {
                workers[key] = value;
            }
            else if (key.StartsWith(PaymentOptions.SectionName + ":", StringComparison.OrdinalIgnoreCase))
            {
                payment[key] = value;
            }
            else if (!AllowedVariables.Contains(name, StringComparer.Ordinal) && !AllowedPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)))
            {
                unknown.Add(name);
            }
        }

        Assert.True(unknown.Count == 0, $"the worker reads none of: {string.Join(", ", unknown)}");
        Assert.NotEmpty(workers);
        Assert.NotEmpty(payment);

        // Every Workers__* key binds to a property of WorkersOptions (a typo would be ignored silently otherwise).
        var options = new ConfigurationBuilder().AddInMemoryCollection(workers).Build()
            .GetSection(WorkersOptions.SectionName).Get<WorkersOptions>(b => b.ErrorOnUnknownConfiguration = true)!;
        options.RabbitMq.Uri = environment[RabbitMqOptions.UriVariable];
        Assert.Empty(WorkersOptionsValidator.Collect(options));
        Assert.Equal(2, options.RabbitMq.ClusterNodes.Count);
        Assert.All(options.Endpoints.Values, e => Assert.Equal(QueueType.Quorum, e.QueueType));

        var sample = new ConfigurationBuilder().AddInMemoryCollection(payment).Build()
            .GetSection(PaymentOptions.SectionName).Get<PaymentOptions>(b => b.ErrorOnUnknownConfiguration = true);
        Assert.NotNull(sample);
    }

    [Fact]
    public void Secrets_AreNeverWrittenInTheFiles_AndGuestIsNeverUsed()
    {
        Assert.DoesNotContain("guest", compose.Text, StringComparison.OrdinalIgnoreCase);

        // Secret-looking settings take their value from the environment (${...}), never a literal.
        foreach (var (name, service) in compose.Services)
        {
            foreach (var (key, value) in ComposeFile.RawEnvironment(service))
            {
                if (SecretName().IsMatch(key) && !key.EndsWith("_USER", StringComparison.Ordinal))
                {
                    Assert.True(value.StartsWith("${", StringComparison.Ordinal), $"{name}: {key} must come from the environment");
                }
            }
        }

        // Passwords inside URIs and connection strings are interpolated from the environment too.
        var embedded = 0;
        foreach (var service in compose.Services.Values)
        {
            foreach (var value in ComposeFile.Environment(service, required: "FROM-ENVIRONMENT").Values)
            {
                foreach (var match in UriPassword().Matches(value).Concat(ConnectionStringPassword().Matches(value)))
                {
                    Assert.Equal("FROM-ENVIRONMENT", match.Groups[1].Value);
                    embedded++;
                }
            }
        }

        Assert.True(embedded >= 5, $"expected the workers' and the CLI's URIs and connection strings (found {embedded})");

        // The example holds placeholders only, and the real .env is never committed.
        var example = File.ReadAllLines(Path.Combine(compose.Folder, ".env.example"));
        foreach (var line in example.Where(l => l.Contains('=', StringComparison.Ordinal) && !l.StartsWith('#')))
        {
            var (key, value) = (line.Split('=', 2)[0], line.Split('=', 2)[1]);
            if (SecretName().IsMatch(key) && !key.EndsWith("_USER", StringComparison.Ordinal))
            {
                Assert.Equal("CHANGE_ME", value);
            }
        }

        var root = LocalRabbitMqCluster.FindRepositoryRoot();
        Assert.Contains(File.ReadAllLines(Path.Combine(root, ".gitignore")), l => l.Trim() == "compose/.env");
        var dockerignore = File.ReadAllLines(Path.Combine(root, ".dockerignore"));
        Assert.Contains("**/.env", dockerignore);
        Assert.Contains(".git/", dockerignore);
    }

    [Theory]
    [InlineData("Dockerfile", "mcr.microsoft.com/dotnet/aspnet:10.0")]
    [InlineData("Dockerfile.cli", "mcr.microsoft.com/dotnet/runtime:10.0")]
    public void Images_BuildInStages_RunAsNonRoot_AndBakeInNoSecret(string dockerfile, string runtimeImage)
    {
        var lines = File.ReadAllLines(Path.Combine(compose.Folder, dockerfile)).Where(l => !l.TrimStart().StartsWith('#')).ToList();
        var stages = lines.Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, stages.Count);
        Assert.StartsWith("FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build", stages[0], StringComparison.Ordinal);
        Assert.StartsWith($"FROM {runtimeImage}", stages[1], StringComparison.Ordinal);

        // The last USER of the final stage is the base image's unprivileged user, never root.
        var finalStage = lines.SkipWhile(l => l != stages[1]).ToList();
        var user = finalStage.LastOrDefault(l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.Equal("USER $APP_UID", user);
        Assert.DoesNotContain(finalStage, l => l.StartsWith("COPY", StringComparison.Ordinal) && l.Contains(".env", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => (l.StartsWith("ENV ", StringComparison.Ordinal) || l.StartsWith("ARG ", StringComparison.Ordinal) || l.StartsWith("    ", StringComparison.Ordinal)) && SecretName().IsMatch(l));

        if (dockerfile == "Dockerfile")
        {
            Assert.Contains(finalStage, l => l.StartsWith("HEALTHCHECK ", StringComparison.Ordinal) && l.Contains("workers-healthcheck", StringComparison.Ordinal));
            Assert.Contains("STOPSIGNAL SIGTERM", finalStage);
        }
    }

    [Fact]
    public void PostgresConnectionStrings_NameEveryNode_AndOpenPrimarySessionsOnly()
    {
        var found = 0;
        foreach (var (name, service) in compose.Services)
        {
            if (!ComposeFile.Environment(service).TryGetValue("WORKERS_POSTGRES", out var connectionString))
            {
                continue;
            }

            found++;
            var settings = connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=', 2))
                .ToDictionary(p => p[0].Trim(), p => p.Length > 1 ? p[1].Trim() : string.Empty, StringComparer.OrdinalIgnoreCase);
            Assert.Equal(PgafNodes, settings["Host"].Split(',').Select(h => h.Trim()).Order(StringComparer.Ordinal));
            Assert.True(settings.TryGetValue("Target Session Attributes", out var target) && target == "primary", $"{name}: WORKERS_POSTGRES must open primary sessions only");
        }

        // The workers, migrate, publish and workers-cli.
        Assert.True(found >= 4, $"expected WORKERS_POSTGRES in the workers and the CLI tools (found {found})");

        // The hosts are the services that run a node.
        var nodes = compose.Services.Where(s => s.Value.TryGetValue("command", out var c) && ComposeFile.Strings(c).SequenceEqual(new[] { "node" })).Select(s => s.Key);
        Assert.Equal(PgafNodes, nodes.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void PostgresFormation_UsesTheTestsFormationsSettings_ReadFromBothScripts()
    {
        var root = LocalRabbitMqCluster.FindRepositoryRoot();
        var services = File.ReadAllText(Path.Combine(root, "scripts", "services.sh"));
        var pgaf = File.ReadAllText(Path.Combine(compose.Folder, "postgres", "pgaf.sh"));

        // The monitor's detection timeouts: the same `alter system set pgautofailover.*` in both.
        static Dictionary<string, string> MonitorSettings(string text) =>
            MonitorSetting().Matches(text).ToDictionary(m => m.Groups["name"].Value, m => m.Groups["value"].Value, StringComparer.Ordinal);
        var tests = MonitorSettings(services);
        Assert.True(tests.Count >= 6, $"scripts/services.sh: expected the af_tune settings (found {tests.Count})");
        Assert.Equal(tests.OrderBy(p => p.Key, StringComparer.Ordinal), MonitorSettings(pgaf).OrderBy(p => p.Key, StringComparer.Ordinal));

        // The keepers' network partition timeout and the formation's synchronous standbys.
        Assert.Equal(NetworkPartitionInServices().Match(services).Groups[1].Value, NetworkPartitionInPgaf().Match(pgaf).Groups[1].Value);
        var syncStandbys = SyncStandbysInServices().Match(services).Groups[1].Value;
        Assert.Equal("1", syncStandbys);
        Assert.Equal(syncStandbys, SyncStandbysInPgaf().Match(pgaf).Groups[1].Value);
        Assert.Contains("set formation number-sync-standbys \"$NUMBER_SYNC_STANDBYS\"", pgaf, StringComparison.Ordinal);
        Assert.Contains("--replication-quorum true", pgaf, StringComparison.Ordinal);
    }

    [Fact]
    public void PostgresAuthentication_IsScram_ExceptTheMonitorsConnectOnlyHealthCheck()
    {
        var pgaf = File.ReadAllText(Path.Combine(compose.Folder, "postgres", "pgaf.sh"));
        Assert.DoesNotContain("--auth trust", pgaf, StringComparison.Ordinal);

        // Every TCP rule of the pg_hba.conf the script writes is limited to the private network and uses scram-sha-256,
        // but the one for pgautofailover_monitor (a role without privileges; pg_autoctl opens it with trust itself).
        var rules = HbaRule().Matches(pgaf).Select(m => m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.True(rules.Count >= 4, $"expected the monitor's and the nodes' TCP rules (found {rules.Count})");
        foreach (var rule in rules)
        {
            Assert.Equal("$PGAF_HBA_NETWORK", rule[3]);
            Assert.Equal(rule[2] == "pgautofailover_monitor" ? "trust" : "scram-sha-256", rule[4]);
        }

        Assert.Contains(rules, r => r[1] == "replication" && r[2] == "pgautofailover_replicator");
        Assert.Contains(rules, r => r[1] == "pg_auto_failover" && r[2] == "autoctl_node");
    }

    [Fact]
    public async Task PostgresImage_InstallsPgAutoFailover_FromAPackageThisMachinesAptKnows()
    {
        var lines = File.ReadAllLines(Path.Combine(compose.Folder, "postgres", "Dockerfile")).Where(l => !l.TrimStart().StartsWith('#')).ToList();
        var from = Assert.Single(lines, l => l.StartsWith("FROM ", StringComparison.Ordinal));
        var major = PostgresImage().Match(from);
        Assert.True(major.Success, $"expected FROM postgres:<major>-bookworm, found {from}");
        var package = AutoFailoverPackage().Match(string.Join('\n', lines));
        Assert.True(package.Success, "the Dockerfile installs no postgresql-<major>-auto-failover");
        Assert.Equal(major.Groups[1].Value, package.Groups["major"].Value);
        Assert.Contains("ENTRYPOINT [\"/usr/local/bin/pgaf.sh\"]", lines);
        Assert.DoesNotContain(lines, l => (l.StartsWith("ENV ", StringComparison.Ordinal) || l.StartsWith("ARG ", StringComparison.Ordinal)) && SecretName().IsMatch(l));

        if (!File.Exists("/usr/bin/apt-cache"))
        {
            Assert.Skip("apt-cache is not installed: cannot check the package name");
        }

        var policy = await LocalRabbitMqCluster.RunAsync("apt-cache", ["policy", package.Groups["package"].Value], TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        var candidate = AptCandidate().Match(policy);
        Assert.True(candidate.Success && candidate.Groups[1].Value != "(none)", $"apt knows no {package.Groups["package"].Value}: {policy}");
    }

    [Fact]
    public async Task ShellScripts_Parse()
    {
        var scripts = Directory.GetFiles(compose.Folder, "*.sh", SearchOption.AllDirectories)
            .Append(Path.Combine(LocalRabbitMqCluster.FindRepositoryRoot(), "scripts", "services.sh"))
            .Append(Path.Combine(LocalRabbitMqCluster.FindRepositoryRoot(), "scripts", "check-compose-pgaf.sh"));
        foreach (var script in scripts)
        {
            await LocalRabbitMqCluster.RunAsync("bash", ["-n", script], TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        }
    }

    private static Dictionary<string, string> Secrets() => new()
    {
        ["RABBITMQ_ERLANG_COOKIE"] = "cookie-" + Guid.NewGuid().ToString("N"),
        ["RABBITMQ_ADMIN_PASSWORD"] = "admin-" + Guid.NewGuid().ToString("N"),
        ["WORKER_RABBITMQ_PASSWORD"] = "worker-" + Guid.NewGuid().ToString("N"),
        ["CLI_RABBITMQ_PASSWORD"] = "cli-" + Guid.NewGuid().ToString("N"),
        ["POSTGRES_PASSWORD"] = "pg-" + Guid.NewGuid().ToString("N"),
        ["WORKERS_DB_PASSWORD"] = "db-" + Guid.NewGuid().ToString("N"),
        ["REPLICATION_PASSWORD"] = "repl-" + Guid.NewGuid().ToString("N"),
        ["AUTOCTL_NODE_PASSWORD"] = "autoctl-" + Guid.NewGuid().ToString("N"),
    };

    [GeneratedRegex("PASS|PASSWORD|COOKIE|SECRET|TOKEN", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();

    [GeneratedRegex(@"[a-z]+://[^:/\s@]+:([^@\s]+)@")]
    private static partial Regex UriPassword();

    [GeneratedRegex(@"Password=([^;\s]+)")]
    private static partial Regex ConnectionStringPassword();

    [GeneratedRegex(@"alter system set pgautofailover\.(?<name>[a-z_]+) = (?<value>'[^']*'|\d+)")]
    private static partial Regex MonitorSetting();

    [GeneratedRegex(@"timeout\.network_partition_timeout (\d+)")]
    private static partial Regex NetworkPartitionInServices();

    [GeneratedRegex(@"(?m)^NODE_NETWORK_PARTITION_TIMEOUT=(\d+)$")]
    private static partial Regex NetworkPartitionInPgaf();

    [GeneratedRegex(@"set formation number-sync-standbys (\d+)")]
    private static partial Regex SyncStandbysInServices();

    [GeneratedRegex(@"(?m)^NUMBER_SYNC_STANDBYS=(\d+)$")]
    private static partial Regex SyncStandbysInPgaf();

    [GeneratedRegex(@"echo ""(host [^""]+)""")]
    private static partial Regex HbaRule();

    [GeneratedRegex(@"^FROM postgres:(\d+)-bookworm$")]
    private static partial Regex PostgresImage();

    [GeneratedRegex(@"apt-get install[^\n]* (?<package>postgresql-(?<major>\d+)-auto-failover)")]
    private static partial Regex AutoFailoverPackage();

    [GeneratedRegex(@"Candidate: (\S+)")]
    private static partial Regex AptCandidate();
}
