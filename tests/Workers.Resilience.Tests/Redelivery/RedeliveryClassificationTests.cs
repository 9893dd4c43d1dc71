using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using Workers.Resilience.Classification;
using Xunit;

namespace Workers.Resilience.Tests.Redelivery;

public class RedeliveryClassificationTests
{
    [Theory]
    [InlineData(typeof(TimeoutException))]
    [InlineData(typeof(InvalidOperationException))]
    [InlineData(typeof(IOException))]
    public void CommonFailures_AreTransient(Type type)
    {
        Assert.Equal(FailureDisposition.Retry, ExceptionClassifier.Default.Classify((Exception)Activator.CreateInstance(type)!));
    }

    [Fact]
    public void DeserializationAndValidationAndDeclaredPermanent_ArePermanent()
    {
        Assert.Equal(FailureDisposition.DeadLetter, ExceptionClassifier.Default.Classify(new JsonException("bad")));
        Assert.Equal(FailureDisposition.DeadLetter, ExceptionClassifier.Default.Classify(new ValidationException("bad")));
        Assert.Equal(FailureDisposition.DeadLetter, ExceptionClassifier.Default.Classify(new PermanentFailureException("bad")));
        Assert.Equal(FailureDisposition.DeadLetter, ExceptionClassifier.Default.Classify(new SerializationException("bad")));
        Assert.Equal(FailureDisposition.DeadLetter, ExceptionClassifier.Default.Classify(new InvalidOperationException("wrapped", new JsonException("bad"))));
    }

    [Fact]
    public void UserDeclaredTypes_FromRedeliveryOptions_AreHonoured()
    {
        var options = new RedeliveryOptions();
        options.Classification.PermanentExceptions.Add(typeof(KeyNotFoundException).FullName!);
        options.Classification.TransientExceptions.Add(typeof(PartnerTimeoutValidationException).AssemblyQualifiedName!);
        var classifier = new ExceptionClassifier(options.Classification);

        Assert.Equal(FailureDisposition.DeadLetter, classifier.Classify(new KeyNotFoundException()));
        Assert.Equal(FailureDisposition.Retry, classifier.Classify(new PartnerTimeoutValidationException()));
        Assert.Equal(FailureDisposition.DeadLetter, classifier.Classify(new ValidationException()));
        Assert.Equal(FailureDisposition.Retry, classifier.Classify(new TimeoutException()));
    }

    public sealed class PartnerTimeoutValidationException : ValidationException;

    // Stands for MassTransit's own SerializationException family, recognised by name.
    public sealed class SerializationException(string message) : Exception(message);
}

public class ClassificationRulesTests
{
    [Fact]
    public void PermanentRule_MatchesOnlyWhereItsPredicateHolds_AndDerivedTypes()
    {
        var options = new ExceptionClassificationOptions().Permanent<HttpRequestException>(e => e.StatusCode == System.Net.HttpStatusCode.BadRequest);
        var classifier = new ExceptionClassifier(options);

        Assert.Equal(FailureDisposition.DeadLetter, classifier.Classify(Http(400)));
        Assert.Equal(FailureDisposition.Retry, classifier.Classify(Http(503)));
        Assert.Equal(FailureDisposition.Retry, classifier.Classify(new HttpRequestException("no status")));
        Assert.Equal(FailureDisposition.DeadLetter, classifier.Classify(new InvalidOperationException("wrapped", Http(400))));
        Assert.Equal(FailureDisposition.DeadLetter, classifier.Classify(new AggregateException(Http(400))));
        Assert.Equal(FailureDisposition.DeadLetter, new ExceptionClassifier(new ExceptionClassificationOptions().Permanent<IOException>()).Classify(new FileNotFoundException()));
    }

    [Fact]
    public void TransientRule_WinsOverPermanentRulesTypesAndBuiltIns()
    {
        var options = new ExceptionClassificationOptions()
            .Permanent<HttpRequestException>()
            .Transient<HttpRequestException>(e => e.StatusCode == System.Net.HttpStatusCode.TooManyRequests)
            .Transient<System.ComponentModel.DataAnnotations.ValidationException>(e => e.Message.Contains("partner", StringComparison.Ordinal));
        options.PermanentExceptions.Add(typeof(TimeoutException).FullName!);
        var classifier = new ExceptionClassifier(options);

        Assert.Equal(FailureDisposition.Retry, classifier.Classify(Http(429)));
        Assert.Equal(FailureDisposition.DeadLetter, classifier.Classify(Http(400)));
        Assert.Equal(FailureDisposition.Retry, classifier.Classify(new System.ComponentModel.DataAnnotations.ValidationException("partner timed out")));
        Assert.Equal(FailureDisposition.DeadLetter, classifier.Classify(new System.ComponentModel.DataAnnotations.ValidationException("bad amount")));
        Assert.Equal(FailureDisposition.DeadLetter, classifier.Classify(new TimeoutException()));
    }

    [Fact]
    public void PredicateThatThrows_DoesNotMatch_SoTheFailureIsRetriedNotLost()
    {
        var options = new ExceptionClassificationOptions().Permanent<InvalidOperationException>(e => e.Data["missing"]!.ToString() == "x");

        Assert.Equal(FailureDisposition.Retry, new ExceptionClassifier(options).Classify(new InvalidOperationException()));
    }

    [Fact]
    public void With_CopiesTypesAndRules_AndAddsOnlyToTheCopy()
    {
        var shared = new ExceptionClassificationOptions();
        shared.PermanentExceptions.Add(typeof(KeyNotFoundException).FullName!);
        shared.Transient<TimeoutException>();

        var endpoint = shared.With([c => c.Permanent<HttpRequestException>()]);

        Assert.Single(shared.Rules);
        Assert.Equal(2, endpoint.Rules.Count);
        Assert.Equal(shared.PermanentExceptions, endpoint.PermanentExceptions);
        Assert.Equal(FailureDisposition.DeadLetter, new ExceptionClassifier(endpoint).Classify(Http(500)));
        Assert.Equal(FailureDisposition.Retry, new ExceptionClassifier(shared).Classify(Http(500)));
    }

    private static HttpRequestException Http(int status) => new($"HTTP {status}", null, (System.Net.HttpStatusCode)status);
}
