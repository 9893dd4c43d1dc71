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
    public void Topology_HasThreeRabbitNodes_PrimaryAndStandby_ReplicatedWorkers_AndHealthGatedStartup()
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

        Assert.Equal("postgres:15", ComposeFile.Scalar(services["postgres"], "image"));
        Assert.Equal("postgres:15", ComposeFile.Scalar(services["postgres-standby"], "image"));
        Assert.Contains("/compose/postgres/standby-entrypoint.sh", ComposeFile.Strings(services["postgres-standby"]["entrypoint"]));
        var primaryInit = File.ReadAllText(Path.Combine(compose.Folder, "postgres", "primary-init.sh"));
        Assert.Contains("synchronous_standby_names", primaryInit, StringComparison.Ordinal);
        var standby = File.ReadAllText(Path.Combine(compose.Folder, "postgres", "standby-entrypoint.sh"));
        Assert.Contains("pg_basebackup", standby, StringComparison.Ordinal);

        var worker = services["worker"];
        var replicas = int.Parse(ComposeFile.Interpolate(ComposeFile.Scalar(worker, "deploy", "replicas")!), CultureInfo.InvariantCulture);
        Assert.True(replicas >= 2, $"the workers run replicated (replicas: {replicas})");
        Assert.Equal("compose/Dockerfile", ComposeFile.Scalar(worker, "build", "dockerfile"));
        var dependsOn = ComposeFile.Map(worker["depends_on"]);
        Assert.Equal("service_completed_successfully", ComposeFile.Scalar(dependsOn, "rabbitmq-init", "condition"));
        Assert.Equal("service_healthy", ComposeFile.Scalar(dependsOn, "postgres", "condition"));
        Assert.Equal("service_healthy", ComposeFile.Scalar(dependsOn, "postgres-standby", "condition"));
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

        Assert.All(["rabbit1-data", "rabbit2-data", "rabbit3-data", "postgres-primary-data", "postgres-standby-data"], v => Assert.Contains(v, compose.DeclaredVolumes));
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
    public async Task ShellScripts_Parse()
    {
        var scripts = Directory.GetFiles(compose.Folder, "*.sh", SearchOption.AllDirectories)
            .Append(Path.Combine(LocalRabbitMqCluster.FindRepositoryRoot(), "scripts", "services.sh"));
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
    };

    [GeneratedRegex("PASS|PASSWORD|COOKIE|SECRET|TOKEN", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();

    [GeneratedRegex(@"[a-z]+://[^:/\s@]+:([^@\s]+)@")]
    private static partial Regex UriPassword();

    [GeneratedRegex(@"Password=([^;\s]+)")]
    private static partial Regex ConnectionStringPassword();
}
