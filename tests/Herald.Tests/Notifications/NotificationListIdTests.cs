using Herald.Notifications;
using Herald.Scopes;
using MimeKit;

namespace Herald.Tests.Notifications;

public sealed class NotificationListIdTests
{
    [Theory]
    [InlineData("/", "example.org", "\"Herald notifications for /\" <root.notifications.example.org>")]
    [InlineData("/hr", "Example.ORG", "\"Herald notifications for /hr\" <hr.notifications.example.org>")]
    [InlineData("/hr/payroll", "example.org", "\"Herald notifications for /hr/payroll\" <payroll.hr.notifications.example.org>")]
    [InlineData("/hr", "bücher.example", "\"Herald notifications for /hr\" <hr.notifications.xn--bcher-kva.example>")]
    public void A_scope_s_notifications_carry_its_list_id_under_the_from_domain(string scope, string domain, string expected) =>
        Assert.Equal(expected, NotificationListId.For(ScopePath.Parse(scope), domain));

    [Fact]
    public void Scopes_that_differ_only_in_punctuation_get_different_list_ids()
    {
        string[] scopes = ["/hr-x", "/hr.x", "/hr_x", "/hr/x"];

        var ids = scopes.Select(s => Id(NotificationListId.For(ScopePath.Parse(s), "example.org"))).ToArray();

        Assert.Equal(scopes.Length, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal("hr-x.notifications.example.org", ids[0]);
    }

    [Fact]
    public void Every_list_id_is_a_valid_header_with_dns_labels_however_long_or_unusual_the_scope()
    {
        var deep = "/" + string.Join('/', Enumerable.Range(0, 16).Select(i => new string((char)('a' + i), 64)));
        foreach (var scope in new[] { deep, "/a._-b/9-", "/a.b.c/d_e", "/x/y-/z." })
        {
            var value = NotificationListId.For(ScopePath.Parse(scope), "example.org");
            var id = Id(value);

            Assert.True(id.Length <= 255, id);
            Assert.All(id.Split('.'), label => Assert.Matches("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", label));
            var header = new Header("List-Id", value);
            Assert.Contains($"<{id}>", header.Value, StringComparison.Ordinal);
        }
    }

    private static string Id(string listId) => listId[(listId.IndexOf('<', StringComparison.Ordinal) + 1)..listId.IndexOf('>', StringComparison.Ordinal)];
}
