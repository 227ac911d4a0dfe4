using Herald.Webhooks;

namespace Herald.Tests.Webhooks;

public sealed class WebhookSignatureTests
{
    // The example the Standard Webhooks specification's reference libraries test against.
    private const string SpecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string SpecId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const long SpecTimestamp = 1614265330;
    private const string SpecBody = """{"test": 2432232314}""";

    [Fact]
    public void The_signature_of_the_specifications_example_is_the_published_one()
    {
        var signature = WebhookSignature.Sign(WebhookSignature.KeyOf(SpecSecret), SpecId, DateTimeOffset.FromUnixTimeSeconds(SpecTimestamp), SpecBody);

        Assert.Equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", signature);
        Assert.Equal("1614265330", WebhookSignature.Seconds(DateTimeOffset.FromUnixTimeSeconds(SpecTimestamp)));
    }

    [Fact]
    public void Any_change_to_id_time_or_body_changes_the_signature()
    {
        var key = WebhookSignature.KeyOf(SpecSecret);
        var at = DateTimeOffset.FromUnixTimeSeconds(SpecTimestamp);
        var original = WebhookSignature.Sign(key, SpecId, at, SpecBody);

        Assert.NotEqual(original, WebhookSignature.Sign(key, SpecId + "x", at, SpecBody));
        Assert.NotEqual(original, WebhookSignature.Sign(key, SpecId, at.AddSeconds(1), SpecBody));
        Assert.NotEqual(original, WebhookSignature.Sign(key, SpecId, at, SpecBody.Replace('2', '3')));
    }

    [Fact]
    public void A_new_secret_is_whsec_and_the_base64_of_32_random_bytes_each_time_different()
    {
        var first = WebhookSignature.NewSecret();
        var second = WebhookSignature.NewSecret();

        Assert.StartsWith("whsec_", first, StringComparison.Ordinal);
        Assert.Equal(32, WebhookSignature.KeyOf(first).Length);
        Assert.NotEqual(first, second);
    }
}
