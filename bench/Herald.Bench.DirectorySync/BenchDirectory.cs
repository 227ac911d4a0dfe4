using System.Text;
using Herald.IntegrationTests.Fixtures;

namespace Herald.Bench.DirectorySync;

/// <summary>The benchmark's directory as LDIF: users u000000…, groups g00000… of ten users each
/// (the users in order, so every user is in one group), and group i (i &gt; 0) a member of group
/// (i - 1) / 10, so the groups nest ten to a parent and g00000 reaches everyone.</summary>
internal static class BenchDirectory
{
    public static string Generate(int users, int groups)
    {
        var ldif = new StringBuilder(users * 160 + groups * 400);
        for (var i = 0; i < users; i++)
        {
            ldif.Append(OpenLdap.Person($"u{i:000000}", $"User {i:000000}", $"u{i:000000}@example.org"));
        }

        var perGroup = Math.Max(1, users / Math.Max(1, groups));
        var children = new List<string>[groups];
        for (var g = 1; g < groups; g++)
        {
            (children[(g - 1) / 10] ??= []).Add(OpenLdap.GroupDn($"g{g:00000}"));
        }

        for (var g = 0; g < groups; g++)
        {
            var members = Enumerable.Range(g * perGroup, perGroup).Where(u => u < users).Select(u => OpenLdap.UserDn($"u{u:000000}"))
                .Concat(children[g] ?? []);
            ldif.Append(OpenLdap.Group($"g{g:00000}", [.. members]));
        }

        return ldif.ToString();
    }
}
