using Workers.Postgres.FailureStore;
using Xunit;

namespace Workers.Postgres.Tests.FailureStore;

public sealed class FailureFingerprintTests
{
    private const string Trace = """
           at Acme.Billing.PaymentGateway.ChargeAsync(Decimal amount, CancellationToken ct) in /src/Acme/Billing/PaymentGateway.cs:line 42
           at Acme.Billing.ChargeCardConsumer.<Consume>d__4.MoveNext() in /src/Acme/Billing/ChargeCardConsumer.cs:line 17
        --- End of stack trace from previous location ---
           at MassTransit.DependencyInjection.ScopeConsumerFactory`1.Send[TMessage](ConsumeContext`1 context, IPipe`1 next)
           at Workers.Resilience.Redelivery.RedeliveryFilter`1.Send(TContext context, IPipe`1 next)
           at Acme.Billing.Pipeline.Outer`1.<>c__DisplayClass2_0.<Run>b__0(Object state) in /src/Acme/Billing/Pipeline.cs:line 9
           at Acme.Billing.Pipeline.Last() in /src/Acme/Billing/Pipeline.cs:line 99
        """;

    [Fact]
    public void ApplicationFrames_SkipFrameworkFramesAndNoise_TopThreeNormalised()
    {
        var frames = FailureFingerprint.ApplicationFrames(Trace);

        Assert.Equal(["Acme.Billing.PaymentGateway.ChargeAsync", "Acme.Billing.ChargeCardConsumer.Consume", "Acme.Billing.Pipeline.Outer.Run"], frames);
    }

    [Fact]
    public void Compute_AnotherBuild_LineNumbersPathsAndOrdinalsChanged_SameGroup()
    {
        var rebuilt = Trace
            .Replace("line 42", "line 57", StringComparison.Ordinal)
            .Replace("/src/", "/app/build/", StringComparison.Ordinal)
            .Replace("d__4", "d__7", StringComparison.Ordinal)
            .Replace("DisplayClass2_0", "DisplayClass3_1", StringComparison.Ordinal)
            .Replace("b__0", "b__2", StringComparison.Ordinal);

        Assert.Equal(
            FailureFingerprint.Compute("System.TimeoutException", Trace, "Acme.Billing.ChargeCardConsumer"),
            FailureFingerprint.Compute("System.TimeoutException", rebuilt, "Acme.Billing.ChargeCardConsumer"));
    }

    [Fact]
    public void Compute_OnlyFrameworkFramesDiffer_SameGroup()
    {
        var viaOtherPipeline = Trace.Replace("ScopeConsumerFactory`1.Send", "ConsumerMessageFilter`2.Send", StringComparison.Ordinal);

        Assert.Equal(FailureFingerprint.Compute("E", Trace, "C"), FailureFingerprint.Compute("E", viaOtherPipeline, "C"));
    }

    [Theory]
    [InlineData("System.InvalidOperationException", "Acme.Billing.ChargeCardConsumer", null)]
    [InlineData("System.TimeoutException", "Acme.Billing.RefundConsumer", null)]
    [InlineData("System.TimeoutException", "Acme.Billing.ChargeCardConsumer", "at Acme.Billing.OtherGateway.ChargeAsync()")]
    public void Compute_ExceptionConsumerOrApplicationFrameDiffers_OtherGroup(string exceptionType, string consumer, string? otherTop)
    {
        var trace = otherTop is null ? Trace : otherTop + "\n" + Trace;

        Assert.NotEqual(
            FailureFingerprint.Compute("System.TimeoutException", Trace, "Acme.Billing.ChargeCardConsumer"),
            FailureFingerprint.Compute(exceptionType, trace, consumer));
    }

    [Fact]
    public void Compute_NoStackTrace_GroupsByExceptionAndConsumer()
    {
        var fingerprint = FailureFingerprint.Compute("System.TimeoutException", null, "Acme.Billing.ChargeCardConsumer");

        Assert.Matches("^[0-9a-f]{16}$", fingerprint);
        Assert.Equal(fingerprint, FailureFingerprint.Compute("System.TimeoutException", "   at System.Threading.Tasks.Task.Wait()", "Acme.Billing.ChargeCardConsumer"));
    }

    [Theory]
    [InlineData("Acme.Orders.Handler`1.Handle[TMessage](ConsumeContext`1 context) in /x.cs:line 3", "Acme.Orders.Handler.Handle")]
    [InlineData("Acme.Orders.Outer+Inner.<Run>g__Local|2_0()", "Acme.Orders.Outer.Inner.Run")]
    [InlineData("Acme.Orders.Saga.<>c.<Configure>b__5_3(Object x)", "Acme.Orders.Saga.Configure")]
    public void NormaliseFrame_CompilerAndGenericNoise_Removed(string frame, string expected) =>
        Assert.Equal(expected, FailureFingerprint.NormaliseFrame(frame));

    [Fact]
    public void Compute_ConsumerGenericArity_Ignored() =>
        Assert.Equal(FailureFingerprint.Compute("E", null, "Acme.Handler`1"), FailureFingerprint.Compute("E", null, "Acme.Handler"));
}
