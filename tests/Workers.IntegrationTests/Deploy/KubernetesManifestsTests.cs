using System.Globalization;
using System.Text.RegularExpressions;
using k8s.Models;
using Microsoft.Extensions.Configuration;
using Workers.Hosting;
using Workers.Sample;
using Workers.Sample.Payments;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Deploy;

/// <summary>
/// compose/kubernetes checked offline against the invariants the workers need: no cluster, no service.
/// The kustomization is rendered with <c>kubectl kustomize</c> and every document parsed strictly (see <see cref="KubernetesManifests"/>).
/// </summary>
public sealed partial class KubernetesManifestsTests
{
    private const string ConnectionsSecret = "workers-sample-connections";

    // Variables the worker reads besides its bound sections (Workers:*, Sample:Payment:*).
    private static readonly string[] AllowedVariables = [RabbitMqOptions.UriVariable, PostgresOptions.ConnectionStringVariable, "ASPNETCORE_HTTP_PORTS"];
    private static readonly string[] AllowedPrefixes = ["OTEL_", "DOTNET_", "Logging__"];

    [Fact]
    public async Task Render_ParsesStrictly_HoldsEveryObject_AndNoSecret()
    {
        var manifests = await RenderAsync();

        var kinds = manifests.Documents.Select(Kind).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["ConfigMap", "Deployment", "Job", "PodDisruptionBudget", "ScaledObject", "TriggerAuthentication"], kinds);

        // Secrets are referenced, never written: no literal value of a secret-looking variable, no credentials in settings.
        foreach (var container in Containers(manifests))
        {
            foreach (var variable in container.Env ?? [])
            {
                if (SecretLike().IsMatch(variable.Name))
                {
                    Assert.True(variable.Value is null && variable.ValueFrom?.SecretKeyRef?.Name == ConnectionsSecret, $"{container.Name}: {variable.Name} must come from the Secret {ConnectionsSecret}");
                }
            }
        }

        foreach (var (key, value) in manifests.ConfigMaps.SelectMany(c => c.Data ?? new Dictionary<string, string>()))
        {
            Assert.False(SecretLike().IsMatch(key), $"ConfigMap key {key} looks secret: put it in {ConnectionsSecret}");
            Assert.DoesNotMatch(Credentials(), value);
        }
    }

    [Fact]
    public async Task Grace_CoversTheShutdownTimeout_PlusTheHostsMargin()
    {
        var manifests = await RenderAsync();
        var pod = manifests.Deployment.Spec.Template.Spec;
        var environment = WorkerEnvironment(manifests);

        var shutdown = environment.TryGetValue("Workers__ShutdownTimeout", out var value)
            ? TimeSpan.Parse(value, CultureInfo.InvariantCulture)
            : WorkersOptions.DefaultShutdownTimeout;
        Assert.NotNull(pod.TerminationGracePeriodSeconds);
        var grace = TimeSpan.FromSeconds(pod.TerminationGracePeriodSeconds.Value);

        var needed = shutdown + WorkersHostApplicationBuilderExtensions.HostShutdownMargin;
        Assert.True(grace >= needed, $"terminationGracePeriodSeconds {grace.TotalSeconds} s must cover Workers__ShutdownTimeout {shutdown} plus the host's margin ({needed.TotalSeconds} s)");
        // A preStop hook would run inside the same grace period and delay SIGTERM: there is none to account for.
        Assert.All(pod.Containers, c => Assert.Null(c.Lifecycle?.PreStop));
    }

    [Fact]
    public async Task Probes_StartupLivenessReadiness_AskTheWorkersPaths_OnItsPort()
    {
        var manifests = await RenderAsync();
        var worker = Assert.Single(manifests.Deployment.Spec.Template.Spec.Containers);
        var environment = WorkerEnvironment(manifests);
        var listening = int.Parse(environment["ASPNETCORE_HTTP_PORTS"], CultureInfo.InvariantCulture);

        Assert.NotNull(worker.StartupProbe);
        Assert.NotNull(worker.LivenessProbe);
        Assert.NotNull(worker.ReadinessProbe);
        Assert.Equal(WorkersHealth.LivePath, worker.StartupProbe.HttpGet?.Path);
        Assert.Equal(WorkersHealth.LivePath, worker.LivenessProbe.HttpGet?.Path);
        Assert.Equal(WorkersHealth.ReadyPath, worker.ReadinessProbe.HttpGet?.Path);
        foreach (var probe in new[] { worker.StartupProbe, worker.LivenessProbe, worker.ReadinessProbe })
        {
            Assert.Equal(listening, PortNumber(worker, probe.HttpGet.Port));
        }

        // HTTP answers only once the bus has started: the startup probe must wait at least that long before liveness.
        var budget = TimeSpan.FromSeconds((worker.StartupProbe.InitialDelaySeconds ?? 0) + ((worker.StartupProbe.PeriodSeconds ?? 10) * (worker.StartupProbe.FailureThreshold ?? 3)));
        Assert.True(budget > WorkersHostApplicationBuilderExtensions.BusStartTimeout, $"startup probe budget {budget} must exceed the bus start timeout {WorkersHostApplicationBuilderExtensions.BusStartTimeout}");
    }

    [Fact]
    public async Task DisruptionBudget_SelectsTheWorkerPods_AndOnlyThem()
    {
        var manifests = await RenderAsync();
        var deployment = manifests.Deployment;
        var budget = manifests.DisruptionBudget.Spec;

        Assert.Null(budget.Selector.MatchExpressions);
        var selector = budget.Selector.MatchLabels;
        Assert.NotEmpty(selector);
        Assert.True(Selects(selector, deployment.Spec.Template.Metadata.Labels), "the budget does not select the Deployment's pods");
        Assert.Equal(deployment.Spec.Selector.MatchLabels.OrderBy(l => l.Key), selector.OrderBy(l => l.Key));
        Assert.False(Selects(selector, manifests.MigrateJob.Spec.Template.Metadata.Labels), "the budget must not count the migrate Job's pod");

        // A drain can always proceed: at most one pod at a time, never "all must stay".
        Assert.Null(budget.MinAvailable);
        Assert.Equal("1", budget.MaxUnavailable?.Value);
    }

    [Fact]
    public async Task ScaledObject_TargetsTheDeployment_OnTheSampleQueues_WithAFloorOfAtLeastOne()
    {
        var manifests = await RenderAsync();
        var scaled = manifests.ScaledObject;

        Assert.Equal("Deployment", (string?)KubernetesManifests.At(scaled, "spec", "scaleTargetRef", "kind") ?? "Deployment");
        Assert.Equal(manifests.Deployment.Metadata.Name, KubernetesManifests.At(scaled, "spec", "scaleTargetRef", "name"));

        // KEDA's default floor is 0: the outbox relay runs inside the workers, so the floor must be stated and >= 1.
        var floor = KubernetesManifests.At(scaled, "spec", "minReplicaCount");
        Assert.NotNull(floor);
        var min = int.Parse((string)floor, CultureInfo.InvariantCulture);
        Assert.True(min >= 1, $"minReplicaCount {min}: with no worker the outbox relay stops");
        var max = int.Parse((string)KubernetesManifests.At(scaled, "spec", "maxReplicaCount")!, CultureInfo.InvariantCulture);
        Assert.True(max >= min);
        // The autoscaler owns the count: a fixed replicas field would be reset on every apply.
        Assert.Null(manifests.Deployment.Spec.Replicas);

        var triggers = ((List<object>)KubernetesManifests.At(scaled, "spec", "triggers")!).Cast<Dictionary<object, object>>().ToList();
        Assert.Equal([SampleHost.NotificationsQueue, SampleHost.OrdersQueue], triggers.Select(t => (string)KubernetesManifests.At(t, "metadata", "queueName")!).Order(StringComparer.Ordinal));
        var workerBroker = WorkerVariable(manifests, RabbitMqOptions.UriVariable).ValueFrom.SecretKeyRef;
        foreach (var trigger in triggers)
        {
            Assert.Equal("rabbitmq", trigger["type"]);
            Assert.Equal("QueueLength", KubernetesManifests.At(trigger, "metadata", "mode"));
            var authentication = manifests.Custom("TriggerAuthentication").Single(a => KubernetesManifests.At(a, "metadata", "name")!.Equals(KubernetesManifests.At(trigger, "authenticationRef", "name")));
            var host = ((List<object>)KubernetesManifests.At(authentication, "spec", "secretTargetRef")!).Cast<Dictionary<object, object>>().Single(r => (string)r["parameter"] == "host");
            Assert.Equal((workerBroker.Name, workerBroker.Key), ((string)host["name"], (string)host["key"]));
        }
    }

    [Fact]
    public async Task MigrateJob_RunsWorkersMigrate_OnTheWorkersDatabase()
    {
        var manifests = await RenderAsync();
        var job = manifests.MigrateJob.Spec;
        var container = Assert.Single(job.Template.Spec.Containers);

        Assert.StartsWith("workers-cli:", container.Image, StringComparison.Ordinal);
        Assert.Null(container.Command); // the image's entrypoint: dotnet workers.dll
        Assert.Equal(["migrate"], container.Args);
        Assert.Contains(job.Template.Spec.RestartPolicy, new[] { "OnFailure", "Never" });
        Assert.NotNull(job.BackoffLimit);
        Assert.NotNull(job.ActiveDeadlineSeconds);

        var database = Assert.Single(container.Env, e => e.Name == PostgresOptions.ConnectionStringVariable).ValueFrom.SecretKeyRef;
        var workers = WorkerVariable(manifests, PostgresOptions.ConnectionStringVariable).ValueFrom.SecretKeyRef;
        Assert.Equal((workers.Name, workers.Key), (database.Name, database.Key));
        Assert.StartsWith("workers-sample:", Assert.Single(manifests.Deployment.Spec.Template.Spec.Containers).Image, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WorkerEnvironment_SetsOnlySettingsTheWorkerReads()
    {
        var manifests = await RenderAsync();
        var environment = WorkerEnvironment(manifests);
        var workers = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var payment = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var unknown = new List<string>();
        foreach (var (name, value) in environment)
        {
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
        var options = new ConfigurationBuilder().AddInMemoryCollection(workers).Build()
            .GetSection(WorkersOptions.SectionName).Get<WorkersOptions>(b => b.ErrorOnUnknownConfiguration = true)!;
        options.RabbitMq.Uri = "amqp://user:secret@rabbitmq:5672/orders";
        Assert.Empty(WorkersOptionsValidator.Collect(options));
        Assert.All(options.Endpoints.Values, e => Assert.Equal(QueueType.Quorum, e.QueueType));
        Assert.NotNull(new ConfigurationBuilder().AddInMemoryCollection(payment).Build()
            .GetSection(PaymentOptions.SectionName).Get<PaymentOptions>(b => b.ErrorOnUnknownConfiguration = true));
    }

    private static async Task<KubernetesManifests> RenderAsync()
    {
        var kubectl = KubernetesManifests.FindKubectl();
        if (kubectl is null)
        {
            Assert.Skip("kubectl is not on the PATH: it renders compose/kubernetes (kubectl kustomize) offline, no cluster needed.");
        }

        var folder = Path.Combine(LocalRabbitMqCluster.FindRepositoryRoot(), "compose", "kubernetes");
        return await KubernetesManifests.RenderAsync(kubectl, folder, TestContext.Current.CancellationToken);
    }

    private static string Kind(object document) => document switch
    {
        V1ConfigMap => "ConfigMap",
        V1Deployment => "Deployment",
        V1PodDisruptionBudget => "PodDisruptionBudget",
        V1Job => "Job",
        Dictionary<object, object> custom => (string)custom["kind"],
        _ => document.GetType().Name,
    };

    private static IEnumerable<V1Container> Containers(KubernetesManifests manifests) =>
        manifests.Deployment.Spec.Template.Spec.Containers.Concat(manifests.MigrateJob.Spec.Template.Spec.Containers);

    private static V1EnvVar WorkerVariable(KubernetesManifests manifests, string name) =>
        Assert.Single(Assert.Single(manifests.Deployment.Spec.Template.Spec.Containers).Env, e => e.Name == name);

    /// <summary>The worker container's environment as the kubelet builds it: envFrom ConfigMaps first, then env (which wins).</summary>
    private static Dictionary<string, string> WorkerEnvironment(KubernetesManifests manifests)
    {
        var container = Assert.Single(manifests.Deployment.Spec.Template.Spec.Containers);
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var source in container.EnvFrom ?? [])
        {
            Assert.Null(source.SecretRef); // a Secret's keys would be invisible here; name each one in env instead
            var map = manifests.ConfigMaps.Single(c => c.Metadata.Name == source.ConfigMapRef.Name);
            foreach (var (key, value) in map.Data)
            {
                environment[(source.Prefix ?? string.Empty) + key] = value;
            }
        }

        foreach (var variable in container.Env ?? [])
        {
            environment[variable.Name] = variable.Value ?? $"<from {variable.ValueFrom?.SecretKeyRef?.Name}>";
        }

        return environment;
    }

    private static int PortNumber(V1Container container, IntOrString port) =>
        int.TryParse(port.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            ? number
            : Assert.Single(container.Ports, p => p.Name == port.Value).ContainerPort;

    private static bool Selects(IDictionary<string, string> selector, IDictionary<string, string> labels) =>
        selector.All(s => labels.TryGetValue(s.Key, out var value) && value == s.Value);

    [GeneratedRegex("PASS|SECRET|TOKEN|COOKIE|_URI$|POSTGRES", RegexOptions.IgnoreCase)]
    private static partial Regex SecretLike();

    [GeneratedRegex(@"[a-z]+://[^:/\s@]+:[^@\s]+@|Password=", RegexOptions.IgnoreCase)]
    private static partial Regex Credentials();
}
