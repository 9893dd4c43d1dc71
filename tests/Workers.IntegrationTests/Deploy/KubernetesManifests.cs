using k8s;
using k8s.Models;
using Workers.Testing;
using YamlDotNet.Serialization;

namespace Workers.IntegrationTests.Deploy;

/// <summary>
/// compose/kubernetes rendered the way <c>kubectl apply -k</c> renders it (<c>kubectl kustomize</c>, offline), every
/// document parsed strictly: built-in kinds with the KubernetesClient models (an unknown or misspelt field fails),
/// KEDA's custom resources as plain YAML mappings.
/// </summary>
internal sealed class KubernetesManifests
{
    // The built-in kinds the folder may hold, each parsed strictly into its model. Another kind fails the load.
    private static readonly Dictionary<string, Func<string, object>> Models = new(StringComparer.Ordinal)
    {
        ["v1/ConfigMap"] = text => KubernetesYaml.Deserialize<V1ConfigMap>(text, strict: true),
        ["apps/v1/Deployment"] = text => KubernetesYaml.Deserialize<V1Deployment>(text, strict: true),
        ["policy/v1/PodDisruptionBudget"] = text => KubernetesYaml.Deserialize<V1PodDisruptionBudget>(text, strict: true),
        ["batch/v1/Job"] = text => KubernetesYaml.Deserialize<V1Job>(text, strict: true),
    };

    private const string Keda = "keda.sh/v1alpha1";

    private KubernetesManifests(IReadOnlyList<object> documents)
    {
        Documents = documents;
    }

    /// <summary>Every rendered document, in order: a model for built-in kinds, a mapping for KEDA's.</summary>
    public IReadOnlyList<object> Documents { get; }

    public V1Deployment Deployment => Documents.OfType<V1Deployment>().Single();

    public V1PodDisruptionBudget DisruptionBudget => Documents.OfType<V1PodDisruptionBudget>().Single();

    public V1Job MigrateJob => Documents.OfType<V1Job>().Single();

    public IEnumerable<V1ConfigMap> ConfigMaps => Documents.OfType<V1ConfigMap>();

    public Dictionary<object, object> ScaledObject => Custom("ScaledObject").Single();

    public IEnumerable<Dictionary<object, object>> Custom(string kind) =>
        Documents.OfType<Dictionary<object, object>>().Where(d => (string)d["kind"] == kind);

    /// <summary>Null when kubectl is not on the PATH.</summary>
    public static string? FindKubectl() =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, "kubectl"))
            .FirstOrDefault(File.Exists);

    public static async Task<KubernetesManifests> RenderAsync(string kubectl, string folder, CancellationToken cancellationToken)
    {
        var output = await LocalRabbitMqCluster.RunAsync(kubectl, ["kustomize", folder], TimeSpan.FromSeconds(60), cancellationToken);
        return Parse(output);
    }

    public static KubernetesManifests Parse(string yaml)
    {
        var generic = new DeserializerBuilder().Build();
        var documents = new List<object>();
        foreach (var text in SplitDocuments(yaml))
        {
            var mapping = generic.Deserialize<Dictionary<object, object>>(text)
                ?? throw new InvalidOperationException("An empty YAML document.");
            var key = $"{mapping["apiVersion"]}/{mapping["kind"]}";
            if (Models.TryGetValue(key, out var parse))
            {
                documents.Add(Strict(text, key, parse));
            }
            else if ((string)mapping["apiVersion"] == Keda)
            {
                documents.Add(mapping);
            }
            else
            {
                throw new InvalidOperationException($"Unexpected kind {key}: add its model to {nameof(KubernetesManifests)} and its invariants to the tests.");
            }
        }

        return new KubernetesManifests(documents);
    }

    /// <summary>Reads a path of mapping keys in a custom resource; null when any step is missing.</summary>
    public static object? At(Dictionary<object, object> map, params string[] path)
    {
        object? current = map;
        foreach (var key in path)
        {
            if (current is not Dictionary<object, object> dictionary || !dictionary.TryGetValue(key, out current))
            {
                return null;
            }
        }

        return current;
    }

    private static object Strict(string text, string key, Func<string, object> parse)
    {
        try
        {
            return parse(text);
        }
        catch (YamlDotNet.Core.YamlException exception)
        {
            throw new InvalidOperationException($"{key} does not parse strictly: {exception.Message} {exception.InnerException?.Message}\n{text}", exception);
        }
    }

    private static IEnumerable<string> SplitDocuments(string yaml)
    {
        var current = new List<string>();
        foreach (var line in yaml.Split('\n'))
        {
            if (line.TrimEnd() == "---")
            {
                if (current.Any(l => l.Trim().Length > 0))
                {
                    yield return string.Join('\n', current);
                }

                current.Clear();
            }
            else
            {
                current.Add(line);
            }
        }

        if (current.Any(l => l.Trim().Length > 0))
        {
            yield return string.Join('\n', current);
        }
    }
}
