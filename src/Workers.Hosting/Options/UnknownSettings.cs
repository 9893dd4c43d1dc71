using System.Collections;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Workers.Hosting;

/// <summary>
/// Finds configuration keys under a section that no option property reads (a typo such as
/// <c>Workers:Endpoints:orders:Prefetch</c>), so that they fail validation instead of being ignored.
/// </summary>
internal static class UnknownSettings
{
    public static void Collect(IConfigurationSection section, Type optionsType, List<string> errors, IReadOnlyDictionary<string, Type>? extraSections = null)
    {
        foreach (var child in section.GetChildren())
        {
            if (extraSections is not null && extraSections.TryGetValue(child.Key, out var extraType))
            {
                Collect(child, extraType, errors);
                continue;
            }

            var property = optionsType.GetProperty(child.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null)
            {
                var known = string.Join(", ", optionsType.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name));
                errors.Add($"{child.Path} is not a known setting (known here: {known}).");
                continue;
            }

            CollectValue(child, property.PropertyType, errors);
        }
    }

    private static void CollectValue(IConfigurationSection section, Type type, List<string> errors)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (IsScalar(target))
        {
            return;
        }

        if (DictionaryValueType(target) is { } valueType)
        {
            foreach (var entry in section.GetChildren())
            {
                CollectValue(entry, valueType, errors);
            }

            return;
        }

        if (target != typeof(string) && typeof(IEnumerable).IsAssignableFrom(target))
        {
            var elementType = target.IsArray ? target.GetElementType()! : target.GetGenericArguments().FirstOrDefault() ?? typeof(string);
            foreach (var entry in section.GetChildren())
            {
                CollectValue(entry, elementType, errors);
            }

            return;
        }

        Collect(section, target, errors);
    }

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan)
        || type == typeof(DateTimeOffset) || type == typeof(DateTime) || type == typeof(Uri) || type == typeof(Guid);

    private static Type? DictionaryValueType(Type type)
    {
        var dictionary = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IDictionary<,>)
            ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>));
        return dictionary?.GetGenericArguments()[1];
    }
}
