using MassTransit;
using MassTransit.Configuration;
using Microsoft.Extensions.Logging;

namespace Workers.Resilience.Redelivery;

/// <summary>Adds a <see cref="RedeliveryFilter{TContext}"/> to a consume pipe and validates its options.</summary>
internal sealed class RedeliveryPipeSpecification<TContext> : IPipeSpecification<TContext>
    where TContext : class, ConsumeContext
{
    private readonly Func<RedeliveryTransport> transport;
    private readonly RedeliveryOptions options;
    private readonly DeadLetterOptions deadLetter;
    private readonly Func<DeadLetterFallbackArguments, Task>? fallback;
    private readonly string? consumer;
    private readonly TimeProvider time;
    private readonly ILogger logger;

    public RedeliveryPipeSpecification(
        Func<RedeliveryTransport> transport,
        RedeliveryOptions options,
        DeadLetterOptions deadLetter,
        Func<DeadLetterFallbackArguments, Task>? fallback,
        string? consumer,
        TimeProvider time,
        ILogger logger)
    {
        this.transport = transport;
        this.options = options;
        this.deadLetter = deadLetter;
        this.fallback = fallback;
        this.consumer = consumer;
        this.time = time;
        this.logger = logger;
    }

    public void Apply(IPipeBuilder<TContext> builder) =>
        builder.AddFilter(new RedeliveryFilter<TContext>(transport(), options, deadLetter, fallback, consumer, time, logger));

    public IEnumerable<ValidationResult> Validate() =>
        options.Validate().Concat(deadLetter.Validate()).Select(error => this.Failure("WorkersRedelivery", error));
}
