using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Automations.Testing;

namespace Automations.Security.Tests;

/// <summary>
/// No service reads a body past <see cref="Automations.ServiceDefaults.Extensions.MaxRequestBodyBytes"/>: a larger one
/// is a 413 problem+json (not a 5xx), whether it announces its length or comes in chunks.
/// </summary>
[Trait("Category", "Security")]
public class Limiting_request_bodies(SecurityFixture fx) : IClassFixture<SecurityFixture>
{
    private const int TooLarge = 2 * 1024 * 1024;

    public static TheoryData<string, string, bool> Targets() => new()
    {
        // service, path, chunked
        { "api", "/v1/entities/acme/projects/mnist/automations", false },
        { "api", "/v1/entities/acme/projects/mnist/automations", true },
        { "api", "/v1/entities/acme/queues", false },
        { "api", "/v1/entities/acme/keys", true },
        { "ingestion", "/v1/events", false },
        { "ingestion", "/v1/events", true },
        { "agent", $"/v1/agent/items/{Guid.NewGuid()}/failed", false },
        { "agent", $"/v1/agent/items/{Guid.NewGuid()}/failed", true },
    };

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Should_answer_413_problem_json_to_a_body_past_the_limit(string service, string path, bool chunked)
    {
        var host = service switch { "api" => fx.Api, "ingestion" => fx.Ingestion, _ => fx.Launch };
        var json = Encoding.UTF8.GetBytes("{\"name\":\"" + new string('x', TooLarge) + "\"}");
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = chunked ? new StreamContent(new MemoryStream(json)) : new ByteArrayContent(json),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (chunked) request.Headers.TransferEncodingChunked = true;
        // As clients of large bodies do: the server may answer before the body is sent.
        request.Headers.ExpectContinue = true;
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fx.KeyOf(Principal.Admin));

        using var response = await host.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Should_accept_a_body_under_the_limit()
    {
        var description = new string('x', 900);
        using var response = await SecurityFixture.SendAsync(fx.Api.Client, HttpMethod.Post, "/v1/entities/acme/queues",
            new { name = "limit-" + Guid.NewGuid().ToString("N")[..6], description }, fx.KeyOf(Principal.Admin));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }
}
