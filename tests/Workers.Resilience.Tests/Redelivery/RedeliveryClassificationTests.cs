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
