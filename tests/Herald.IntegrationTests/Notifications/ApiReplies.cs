using System.Net;

namespace Herald.IntegrationTests.Notifications;

/// <summary>The API's replies as the notification tests read them.</summary>
internal static class ApiReplies
{
    /// <summary>The body of a reply whose status is one of <paramref name="expected"/>; any other
    /// fails the test with the status, the request and the body.</summary>
    public static async Task<string> MustAsync(HttpResponseMessage response, params HttpStatusCode[] expected)
    {
        ArgumentNullException.ThrowIfNull(response);
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            Assert.True(expected.Contains(response.StatusCode), $"{(int)response.StatusCode} {response.RequestMessage?.RequestUri}: {body}");
            return body;
        }
    }
}
