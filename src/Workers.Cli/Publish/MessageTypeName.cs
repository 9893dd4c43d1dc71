using System.Text.RegularExpressions;

namespace Workers.Cli.Publish;

/// <summary>MassTransit message type URNs: <c>Namespace.TypeName</c> ⇄ <c>urn:message:Namespace:TypeName</c>.</summary>
internal static partial class MessageTypeName
{
    public const string UrnPrefix = "urn:message:";

    /// <summary>The URN for a .NET full type name or a URN (validated); null when the text is neither.</summary>
    public static string? ToUrn(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        text = text.Trim();
        if (text.StartsWith(UrnPrefix, StringComparison.OrdinalIgnoreCase))
        {
            var rest = text[UrnPrefix.Length..];
            return UrnBody().IsMatch(rest) ? UrnPrefix + rest : null;
        }

        if (!TypeName().IsMatch(text))
        {
            return null;
        }

        var dot = text.LastIndexOf('.');
        return dot < 0 ? UrnPrefix + text : $"{UrnPrefix}{text[..dot]}:{text[(dot + 1)..]}";
    }

    /// <summary>The .NET full type name of a URN (<c>urn:message:A.B:C</c> → <c>A.B.C</c>); other text unchanged.</summary>
    public static string ToTypeName(string urn)
    {
        if (!urn.StartsWith(UrnPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return urn;
        }

        var rest = urn[UrnPrefix.Length..];
        var colon = rest.LastIndexOf(':');
        return colon < 0 ? rest : $"{rest[..colon]}.{rest[(colon + 1)..]}";
    }

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(\+[A-Za-z_][A-Za-z0-9_]*)*$")]
    private static partial Regex TypeName();

    [GeneratedRegex(@"^([A-Za-z_][A-Za-z0-9_.]*:)?[A-Za-z_][A-Za-z0-9_+]*(\[\[.+\]\])?$")]
    private static partial Regex UrnBody();
}
