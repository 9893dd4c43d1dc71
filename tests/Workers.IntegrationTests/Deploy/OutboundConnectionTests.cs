using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Npgsql;
using Workers.IntegrationTests.Hosting;
using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Deploy;

/// <summary>
/// Issue 18: a worker attempts no outbound connection but to its configured broker and database. The sample runs as a
/// process under <c>strace</c>, which records every <c>connect()</c> of every thread — DNS lookups included (a resolver
/// query is a connect to port 53) — from start to exit, through a real workload: an order consumed, its effect
/// committed, its event relayed by the outbox and consumed. The same trace, with an OTLP endpoint configured (on a
/// loopback address of its own), names that endpoint: it sees what the worker would send elsewhere. (MassTransit's usage
/// telemetry, off by Workers' default, would report after 5 minutes: its default is checked without a process in
/// <c>WorkersHostApplicationBuilderExtensionsTests</c>.)
/// </summary>
public sealed partial class OutboundConnectionTests : IClassFixture<RabbitMqTestVhost>, IClassFixture<PostgresTestDatabase>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly RabbitMqTestVhost vhost;
    private readonly PostgresTestDatabase database;

    public OutboundConnectionTests(RabbitMqTestVhost vhost, PostgresTestDatabase database)
    {
        this.vhost = vhost;
        this.database = database;
    }

    [Theory]
    [InlineData(null)]
    [InlineData("http://127.0.0.2:4317")]
    public async Task Worker_ConnectsOnlyToItsBrokerAndDatabase_AndToWhatElseItIsConfiguredFor(string? otlpEndpoint)
    {
        var trace = Path.Combine(Path.GetTempPath(), $"workers-connects-{Guid.NewGuid():N}.txt");
        try
        {
            var environment = SampleWorkerEnvironment.For(vhost.Uri, database.ConnectionString);
            if (otlpEndpoint is not null)
            {
                environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpEndpoint;
            }

            await using (var worker = WorkerProcess.StartTracingConnects(WorkerProcess.ProjectAssembly("Workers.Sample"), environment, trace))
            {
                using var http = new HttpClient { BaseAddress = await worker.WaitForListeningAsync(Bound) };
                await MassTransitEnvelope.PublishAsync(vhost, "Workers.Sample.Contracts:SubmitOrder", new { orderId = Guid.NewGuid(), customerId = "c-1", amount = 12.5m }, cancellationToken: TestContext.Current.CancellationToken);

                // The order and its OrderAccepted event (staged in the outbox, relayed, consumed).
                await WorkerMetrics.WaitAsync(http, "messaging_masstransit_consume_ea_total", n => n >= 2, worker, Bound);
                worker.Terminate();
                Assert.Equal(0, await worker.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            }

            var postgres = new NpgsqlConnectionStringBuilder(database.ConnectionString);
            var allowed = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
            {
                Endpoint(vhost.Uri.Host, vhost.Uri.Port),
                Endpoint(postgres.Host!, postgres.Port),
            };
            var connects = Connects(await File.ReadAllLinesAsync(trace, TestContext.Current.CancellationToken));
            var foreign = connects.Where(c => !allowed.Contains(c)).Distinct().ToList();

            // The trace saw the worker's own connections: it is watching the right process.
            Assert.Contains(Endpoint(vhost.Uri.Host, vhost.Uri.Port), connects);
            Assert.Contains(Endpoint(postgres.Host!, postgres.Port), connects);
            if (otlpEndpoint is null)
            {
                Assert.True(foreign.Count == 0, $"outbound connection attempts but to the broker and database: {string.Join(", ", foreign)}");
            }
            else
            {
                // The exporter's flush on stop at the latest: the trace names it, and nothing else.
                var otlp = new Uri(otlpEndpoint);
                Assert.Equal([Endpoint(otlp.Host, otlp.Port)], foreign);
            }
        }
        finally
        {
            File.Delete(trace);
        }
    }

    private static string Endpoint(string host, int port) =>
        string.Create(CultureInfo.InvariantCulture, $"{(IPAddress.TryParse(host, out var ip) ? ip.ToString() : host)}:{port}");

    /// <summary>The network endpoints of every <c>connect()</c> in an strace file (local sockets left out); a line
    /// that cannot be read is returned as itself, so that it counts as foreign rather than pass unseen.</summary>
    private static List<string> Connects(IEnumerable<string> lines)
    {
        var endpoints = new List<string>();
        foreach (var line in lines.Where(l => l.Contains(" connect(", StringComparison.Ordinal)))
        {
            if (LocalSocket().IsMatch(line))
            {
                continue;
            }

            var match = InetConnect().Match(line);
            if (!match.Success)
            {
                endpoints.Add("unreadable: " + line);
                continue;
            }

            var address = IPAddress.Parse(match.Groups["v4"].Success ? match.Groups["v4"].Value : match.Groups["v6"].Value);
            if (address.IsIPv4MappedToIPv6)
            {
                address = address.MapToIPv4();
            }

            endpoints.Add(string.Create(CultureInfo.InvariantCulture, $"{address}:{int.Parse(match.Groups["port"].Value, CultureInfo.InvariantCulture)}"));
        }

        return endpoints;
    }

    [GeneratedRegex(@"sin6?_port=htons\((?<port>\d+)\).*?(?:inet_addr\(""(?<v4>[^""]+)""\)|inet_pton\(AF_INET6, ""(?<v6>[^""]+)"")")]
    private static partial Regex InetConnect();

    // Unix sockets (the name service cache, the runtime's diagnostics), AF_UNSPEC (a UDP socket's disconnect), and the
    // second half of a call strace printed in two parts.
    [GeneratedRegex(@"sa_family=(AF_UNIX|AF_UNSPEC)|<\.\.\. connect resumed>")]
    private static partial Regex LocalSocket();
}
