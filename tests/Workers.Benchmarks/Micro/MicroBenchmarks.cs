using BenchmarkDotNet.Attributes;
using MassTransit;
using MassTransit.Middleware;
using Workers.Resilience;
using Workers.Resilience.Classification;

namespace Workers.Benchmarks.Micro;

/// <summary>The failure classifier on the hot path of every failed message: built-in types, configured types, inner exceptions.</summary>
[MemoryDiagnoser]
public class ExceptionClassifierBenchmarks
{
    private readonly Exception transient = new TimeoutException("slow dependency");
    private readonly Exception permanent = new PermanentFailureException("bad order");
    private readonly Exception wrapped = new InvalidOperationException("outer", new FormatException("inner"));
    private ExceptionClassifier configured = null!;

    [GlobalSetup]
    public void Setup()
    {
        var options = new ExceptionClassificationOptions();
        options.PermanentExceptions.Add(typeof(FormatException).AssemblyQualifiedName!);
        options.TransientExceptions.Add(typeof(TimeoutException).AssemblyQualifiedName!);
        configured = new ExceptionClassifier(options);
    }

    [Benchmark(Baseline = true)]
    public FailureDisposition DefaultTransient() => ExceptionClassifier.Default.Classify(transient);

    [Benchmark]
    public FailureDisposition DefaultPermanent() => ExceptionClassifier.Default.Classify(permanent);

    [Benchmark]
    public FailureDisposition ConfiguredWrapped() => configured.Classify(wrapped);
}

/// <summary>What one pass-through consume filter adds to a MassTransit pipe (the cost of every middleware stage that does nothing).</summary>
[MemoryDiagnoser]
public class FilterPassThroughBenchmarks
{
    private readonly MicroContext context = new();
    private IPipe<MicroContext> empty = null!;
    private IPipe<MicroContext> one = null!;
    private IPipe<MicroContext> four = null!;

    [GlobalSetup]
    public void Setup()
    {
        empty = Pipe.Empty<MicroContext>();
        one = Pipe.New<MicroContext>(cfg => cfg.UseFilter(new PassThroughFilter()));
        four = Pipe.New<MicroContext>(cfg =>
        {
            for (var i = 0; i < 4; i++)
            {
                cfg.UseFilter(new PassThroughFilter());
            }
        });
    }

    [Benchmark(Baseline = true)]
    public Task EmptyPipe() => empty.Send(context);

    [Benchmark]
    public Task OnePassThroughFilter() => one.Send(context);

    [Benchmark]
    public Task FourPassThroughFilters() => four.Send(context);

    /// <summary>A minimal pipe context.</summary>
    public sealed class MicroContext : BasePipeContext, PipeContext
    {
    }

    private sealed class PassThroughFilter : IFilter<MicroContext>
    {
        public Task Send(MicroContext context, IPipe<MicroContext> next) => next.Send(context);

        public void Probe(ProbeContext context) => context.CreateFilterScope("passThrough");
    }
}

/// <summary>
/// The per-message bookkeeping of the Workers stages on the happy path, without MassTransit: the circuit breaker's
/// decision and success record, and a bulkhead permit taken and returned. What each stage adds per message beyond a
/// pass-through filter (see <see cref="FilterPassThroughBenchmarks"/>).
/// </summary>
[MemoryDiagnoser]
public class PipelineHotPathBenchmarks
{
    private Workers.Resilience.CircuitBreaker.CircuitStateMachine breaker = null!;
    private Workers.Resilience.Bulkhead.ConsumerBulkhead bulkhead = null!;

    [GlobalSetup]
    public void Setup()
    {
        breaker = new Workers.Resilience.CircuitBreaker.CircuitStateMachine(new CircuitBreakerOptions { FailureRatio = 0.9, MinimumThroughput = 1000 }, TimeProvider.System);
        bulkhead = new Workers.Resilience.Bulkhead.ConsumerBulkhead("bench", new BulkheadOptions { PermitLimit = 100 });
    }

    [Benchmark]
    public object? BreakerEnterAndSuccess()
    {
        var decision = breaker.Enter(out _);
        return breaker.OnSuccess(decision == Workers.Resilience.CircuitBreaker.CircuitDecision.Probe) ?? (object)decision;
    }

    [Benchmark]
    public async Task BulkheadAcquireAndRelease()
    {
        var lease = await bulkhead.AcquireAsync(CancellationToken.None).ConfigureAwait(false);
        lease!.Complete();
    }
}
