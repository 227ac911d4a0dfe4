using System.Net;
using Herald.Relay;

namespace Herald.Tests.Relay;

public sealed class RelayAccessPolicyTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("10.1.2.3", true)]
    [InlineData("10.255.255.255", true)]
    [InlineData("11.0.0.1", false)]
    [InlineData("192.0.2.7", true)]
    [InlineData("192.0.2.8", false)]
    [InlineData("2001:db8:1::5", true)]
    [InlineData("2001:db9::5", false)]
    [InlineData("::1", true)]
    [InlineData("::2", false)]
    public async Task Only_list_admits_exactly_the_addresses_its_entries_contain(string client, bool admitted)
    {
        var decision = await EvaluateAsync(RelayAccessMode.OnlyList, ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1"], client);
        Assert.Equal(admitted, decision.Admitted);
    }

    [Theory]
    [InlineData("10.1.2.3", false)]
    [InlineData("11.0.0.1", true)]
    [InlineData("2001:db8::1", false)]
    [InlineData("2001:db9::1", true)]
    public async Task All_except_refuses_exactly_the_addresses_its_entries_contain(string client, bool admitted)
    {
        var decision = await EvaluateAsync(RelayAccessMode.AllExcept, ["10.0.0.0/8", "2001:db8::/32"], client);
        Assert.Equal(admitted, decision.Admitted);
    }

    [Fact]
    public async Task An_ipv4_mapped_ipv6_client_is_matched_as_its_ipv4_address()
    {
        Assert.True((await EvaluateAsync(RelayAccessMode.OnlyList, ["127.0.0.0/8"], "::ffff:127.0.0.2")).Admitted);
        Assert.False((await EvaluateAsync(RelayAccessMode.AllExcept, ["127.0.0.2"], "::ffff:127.0.0.2")).Admitted);
        // An entry written as a mapped address means the IPv4 address too.
        Assert.True((await EvaluateAsync(RelayAccessMode.OnlyList, ["::ffff:10.0.0.1"], "10.0.0.1")).Admitted);
    }

    [Fact]
    public async Task A_loopback_neighbour_outside_a_host_entry_is_refused()
    {
        var decision = await EvaluateAsync(RelayAccessMode.OnlyList, ["127.0.0.1/32"], "127.0.0.2");
        Assert.False(decision.Admitted);
        Assert.Contains("not in the listener's access list", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_domain_entry_matches_a_forward_confirmed_reverse_name_in_the_domain()
    {
        var dns = new FakeResolver().Ptr("192.0.2.10", "app1.apps.example.org").A("app1.apps.example.org", "192.0.2.10");

        var decision = await EvaluateAsync(RelayAccessMode.OnlyList, ["example.org"], "192.0.2.10", dns);

        Assert.True(decision.Admitted);
        Assert.Contains("forward-confirmed", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reverse_name_that_does_not_resolve_back_to_the_client_does_not_match()
    {
        // Whoever holds 198.51.100.9 can publish any PTR name, but not example.org's A records.
        var dns = new FakeResolver().Ptr("198.51.100.9", "mail.example.org").A("mail.example.org", "192.0.2.10");

        Assert.False((await EvaluateAsync(RelayAccessMode.OnlyList, ["example.org"], "198.51.100.9", dns)).Admitted);
        Assert.True((await EvaluateAsync(RelayAccessMode.AllExcept, ["example.org"], "198.51.100.9", dns)).Admitted);
    }

    [Fact]
    public async Task A_domain_entry_matches_whole_labels_only()
    {
        var dns = new FakeResolver().Ptr("192.0.2.11", "host.badexample.org").A("host.badexample.org", "192.0.2.11");

        Assert.False((await EvaluateAsync(RelayAccessMode.OnlyList, ["example.org"], "192.0.2.11", dns)).Admitted);
    }

    [Fact]
    public async Task A_domain_entry_in_the_deny_list_refuses_a_confirmed_client()
    {
        var dns = new FakeResolver().Ptr("2001:db8::10", "Scanner.Example.NET.").A("scanner.example.net", "2001:db8::10");

        Assert.False((await EvaluateAsync(RelayAccessMode.AllExcept, ["example.net"], "2001:db8::10", dns)).Admitted);
    }

    [Fact]
    public async Task Address_entries_decide_before_any_dns_question_is_asked()
    {
        var dns = new FakeResolver();

        Assert.True((await EvaluateAsync(RelayAccessMode.OnlyList, ["10.0.0.0/8", "example.org"], "10.0.0.1", dns)).Admitted);
        Assert.Equal(0, dns.Questions);
    }

    [Fact]
    public async Task No_answer_from_dns_matches_no_domain()
    {
        Assert.False((await EvaluateAsync(RelayAccessMode.OnlyList, ["example.org"], "192.0.2.10", new FakeResolver())).Admitted);
    }

    [Theory]
    [InlineData("10.0.0.0/8", "10.0.0.0/8")]
    [InlineData("10.1.2.3/8", "10.0.0.0/8")]
    [InlineData(" 192.0.2.7 ", "192.0.2.7")]
    [InlineData("192.0.2.7/32", "192.0.2.7")]
    [InlineData("0.0.0.0/0", "0.0.0.0/0")]
    [InlineData("2001:DB8::1/32", "2001:db8::/32")]
    [InlineData("::1", "::1")]
    [InlineData("::ffff:10.0.0.1", "10.0.0.1")]
    [InlineData("Mail.Example.ORG.", "mail.example.org")]
    [InlineData("localhost", "localhost")]
    [InlineData("10.0.0.0/255.0.0.0", "10.0.0.0/8")]
    [InlineData("192.168.10.77/255.255.255.0", "192.168.10.0/24")]
    [InlineData("172.16.0.0/255.240.0.0", "172.16.0.0/12")]
    [InlineData("192.0.2.7/255.255.255.255", "192.0.2.7")]
    [InlineData("0.0.0.0/0.0.0.0", "0.0.0.0/0")]
    public void Access_entries_are_stored_in_canonical_form(string text, string canonical)
    {
        Assert.True(RelayAccessEntry.TryParse(text, out var entry, out var error), error);
        Assert.Equal(canonical, entry.Text);
    }

    [Theory]
    [InlineData("10.0.0.0/33", "from 0 to 32")]
    [InlineData("2001:db8::/129", "from 0 to 128")]
    [InlineData("10.0.0.0/-1", "from 0 to 32")]
    [InlineData("10.0.0.0/x", "from 0 to 32")]
    [InlineData("10.1", "is not an IP address")]
    [InlineData("10.0.0", "is not an IP address")]
    [InlineData("256.0.0.1", "is not an IP address")]
    [InlineData("exa mple.org", "is not an IP address")]
    [InlineData("-bad.example.org", "is not an IP address")]
    [InlineData("example.org/24", "is not an IP address")]
    [InlineData("", "is empty")]
    [InlineData("10.0.0.0/255.0.255.0", "is not a mask of leading ones")]
    [InlineData("10.0.0.0/0.0.0.255", "is not a mask of leading ones")]
    [InlineData("10.0.0.0/255.0.0", "is not a mask of leading ones")]
    [InlineData("10.0.0.0/255.0.0.0.0", "is not a mask of leading ones")]
    [InlineData("10.0.0.0/255.256.0.0", "is not a mask of leading ones")]
    [InlineData("10.0.0.0/0x.0.0.0", "is not a mask of leading ones")]
    [InlineData("2001:db8::/255.0.0.0", "from 0 to 128")]
    public void Bad_access_entries_are_refused_with_the_reason(string text, string reason)
    {
        Assert.False(RelayAccessEntry.TryParse(text, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:2525", "127.0.0.1:2525")]
    [InlineData(" 0.0.0.0:25 ", "0.0.0.0:25")]
    [InlineData("[::1]:2525", "[::1]:2525")]
    [InlineData("[2001:DB8::1]:587", "[2001:db8::1]:587")]
    public void Listen_endpoints_are_parsed_to_their_canonical_text(string text, string canonical)
    {
        Assert.True(RelayAddresses.TryParseEndpoint(text, out var endpoint, out var error), error);
        Assert.Equal(canonical, RelayAddresses.Format(endpoint));
    }

    [Theory]
    [InlineData("127.0.0.1", "write address:port")]
    [InlineData("localhost:2525", "is not an IPv4 address")]
    [InlineData("::1:2525", "write address:port")]
    [InlineData("[::1]2525", "in brackets")]
    [InlineData("[10.0.0.1]:25", "is not an IPv6 address")]
    [InlineData("127.0.0.1:0", "from 1 to 65535")]
    [InlineData("127.0.0.1:65536", "from 1 to 65535")]
    [InlineData("127.0.0.1:+25", "from 1 to 65535")]
    [InlineData("", "is required")]
    public void Bad_listen_endpoints_are_refused_with_the_reason(string text, string reason)
    {
        Assert.False(RelayAddresses.TryParseEndpoint(text, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    private static Task<RelayAccessDecision> EvaluateAsync(RelayAccessMode mode, string[] entries, string client, FakeResolver? dns = null) =>
        RelayAccessPolicy.EvaluateAsync(mode, entries, IPAddress.Parse(client), dns ?? new FakeResolver(), Ct);

    private sealed class FakeResolver : IReverseDnsResolver
    {
        private readonly Dictionary<IPAddress, List<string>> _ptr = [];
        private readonly Dictionary<string, List<IPAddress>> _a = new(StringComparer.OrdinalIgnoreCase);

        public int Questions { get; private set; }

        public FakeResolver Ptr(string address, string name)
        {
            _ptr.TryAdd(IPAddress.Parse(address), []);
            _ptr[IPAddress.Parse(address)].Add(name);
            return this;
        }

        public FakeResolver A(string name, string address)
        {
            _a.TryAdd(name, []);
            _a[name].Add(IPAddress.Parse(address));
            return this;
        }

        public Task<IReadOnlyList<string>> ReverseAsync(IPAddress address, CancellationToken cancellationToken)
        {
            Questions++;
            return Task.FromResult<IReadOnlyList<string>>(_ptr.GetValueOrDefault(address) ?? []);
        }

        public Task<IReadOnlyList<IPAddress>> ForwardAsync(string name, CancellationToken cancellationToken)
        {
            Questions++;
            return Task.FromResult<IReadOnlyList<IPAddress>>(_a.GetValueOrDefault(name) ?? []);
        }
    }
}
