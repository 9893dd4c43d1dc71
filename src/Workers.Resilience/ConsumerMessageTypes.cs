using MassTransit;

namespace Workers.Resilience;

/// <summary>The message types a consumer consumes, and a matcher for an incoming message.</summary>
internal sealed class ConsumerMessageTypes
{
    private ConsumerMessageTypes(Type[] types)
    {
        Types = types;
    }

    public IReadOnlyList<Type> Types { get; }

    public static ConsumerMessageTypes For<TConsumer>()
        where TConsumer : class
    {
        var types = typeof(TConsumer).GetInterfaces()
            .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IConsumer<>))
            .Select(i => i.GetGenericArguments()[0])
            .Distinct()
            .ToArray();
        if (types.Length == 0)
        {
            throw new ConfigurationException($"{typeof(TConsumer).FullName} implements no IConsumer<T>.");
        }

        return new ConsumerMessageTypes(types);
    }

    /// <summary>Whether the incoming message is one the consumer consumes.</summary>
    public bool Matches(ConsumeContext context)
    {
        foreach (var type in Types)
        {
            if (context.HasMessageType(type))
            {
                return true;
            }
        }

        return false;
    }
}
