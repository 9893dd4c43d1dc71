using System.Reflection;
using Microsoft.EntityFrameworkCore;

namespace Workers.Hosting;

/// <summary>Whether EF Core can pool a context type: its one public constructor takes only its <see cref="DbContextOptions"/>.</summary>
internal static class DbContextPooling
{
    public static bool CanPool(Type contextType)
    {
        ArgumentNullException.ThrowIfNull(contextType);
        var constructors = contextType.GetConstructors(BindingFlags.Public | BindingFlags.Instance);
        return constructors.Length == 1
            && constructors[0].GetParameters() is [{ ParameterType: var parameter }]
            && typeof(DbContextOptions).IsAssignableFrom(parameter);
    }
}
