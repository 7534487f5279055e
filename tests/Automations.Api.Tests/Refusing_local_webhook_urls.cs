using System.Net;
using Automations.Testing;

namespace Automations.Api.Tests;

/// <summary>The ApiFixture's Api (allow-list 127.0.0.0/8, ::1/128, as up.sh runs it) and a second one with no allow-list.</summary>
public sealed class TwoAllowListsFixture : ApiFixture
{
    public ServiceHost WithoutAllowList { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var config = ApiConfiguration();
        config["Webhooks:AllowedCidrs"] = "";
        WithoutAllowList = await StartApiAsync(config);
    }

    public override async Task DisposeAsync()
    {
        if (WithoutAllowList is not null) await WithoutAllowList.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>
/// The URL rule at the Api: an IP literal or localhost, in any spelling, is a 400 problem naming the `url` field and the rule,
/// whether the operator allow-list admits loopback or not, on create and on update; the machine's host name is saved.
/// </summary>
[Trait("Category", "Security")]
public class Refusing_local_webhook_urls(TwoAllowListsFixture fx) : IClassFixture<TwoAllowListsFixture>
{
    private const string Webhooks = "/v1/entities/acme/webhooks";

    public static TheoryData<string, string> Urls => new()
    {
        { "http://127.0.0.1:5080/v1/entities/acme/keys", "IP address literal" },
        { "http://2130706433:15672/api/", "IP address literal" },
        { "http://[::1]:5080/", "IP address literal" },
        { "http://[::ffff:127.0.0.1]/", "IP address literal" },
        { "http://localhost:5080/v1/entities/acme/keys", "is localhost" },
        { "http://LOCALHOST.:15672/api/users", "is localhost" },
        { "http://rabbit.localhost/", "is localhost" },
        { "http://１６９.２５４.１６９.２５４/", "IP address literal" },
        { "http://②⑤⑤.②⑤⑤.②⑤⑤.②⑤⑤/", "IP address literal" },
        { "http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", "is localhost" },
        { "http://127。0。0。1:5080/", "IP address literal" },
        { "http://loc\u00ADalhost/", "is localhost" },
        { "http://⑴⑵⑺.0.0.1/", "after IDNA mapping" },
        { "http://⒈⒉⒎/", "does not allow" },
    };

    private IEnumerable<(string Name, HttpClient Client)> Apis() => [("allow-list 127.0.0.0/8", fx.Api.Client), ("no allow-list", fx.WithoutAllowList.Client)];

    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..6];

    [Theory]
    [MemberData(nameof(Urls))]
    public async Task Should_answer_400_naming_the_url_and_the_rule_and_store_nothing(string url, string rule)
    {
        foreach (var (api, client) in Apis())
        {
            var name = Unique("local");
            using var response = await ApiFixture.SendAsync(client, HttpMethod.Post, Webhooks, new { name, url }, fx.AdminKey);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{api}: {url} answered {(int)response.StatusCode}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Contains(ApiFixture.ErrorsOf(problem, "url"), e => e.Contains(rule, StringComparison.Ordinal));
            Assert.DoesNotContain((await fx.GetAsync(Webhooks)).Body.EnumerateArray(), w => w.GetProperty("name").GetString() == name);
        }
    }

    [Theory]
    [MemberData(nameof(Urls))]
    public async Task Should_refuse_to_change_a_webhook_to_a_local_url(string url, string rule)
    {
        var name = Unique("public");
        var created = await fx.PostAsync(Webhooks, new { name, url = "https://hooks.example.com/a" });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Body.GetProperty("id").GetGuid();
        foreach (var (api, client) in Apis())
        {
            using var response = await ApiFixture.SendAsync(client, HttpMethod.Put, $"{Webhooks}/{id}", new { name, url }, fx.AdminKey);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{api}: {url} answered {(int)response.StatusCode}");
            var problem = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Contains(ApiFixture.ErrorsOf(problem, "url"), e => e.Contains(rule, StringComparison.Ordinal));
        }
        Assert.Equal("https://hooks.example.com/a", (await fx.GetAsync($"{Webhooks}/{id}")).Body.GetProperty("url").GetString());
    }

    [Fact]
    public async Task Should_save_a_receiver_reached_by_the_machines_host_name()
    {
        foreach (var (api, client) in Apis())
        {
            var url = $"http://{LocalName.Value}:8080/hook";
            using var response = await ApiFixture.SendAsync(client, HttpMethod.Post, Webhooks, new { name = Unique("machine"), url }, fx.AdminKey);
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"{api}: {url} answered {(int)response.StatusCode}");
        }
    }
}
