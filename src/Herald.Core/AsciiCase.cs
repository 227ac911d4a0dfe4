namespace Herald;

/// <summary>
/// Case folding for names that are ASCII by rule (scopes, connections): only A–Z become a–z.
/// <see cref="string.ToLowerInvariant()"/> would also turn look-alikes into ASCII (the Kelvin sign
/// K into k, the dotted İ into i plus a combining dot), so that a name typed with them passed the
/// ASCII pattern as another scope's or connection's name. Folded this way they stay what they are,
/// and the pattern refuses them.
/// </summary>
public static class AsciiCase
{
    public static string Lower(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return string.Create(text.Length, text, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                var c = source[i];
                span[i] = c is >= 'A' and <= 'Z' ? (char)(c + ('a' - 'A')) : c;
            }
        });
    }
}
