//! The personal feed: every catalogue item the caller has not completed, ranked against the
//! caller's skill profile (see [`crate::ranking`]).

use std::collections::HashMap;

use lyceum_auth::{GrpcAuth, Principal};
use lyceum_proto::common::v1::PageResponse;
use lyceum_proto::lxp::v1 as pb;
use lyceum_server::paging::{self, Page};
use tonic::{Request, Response, Status};

use crate::App;
use crate::catalog::{self, ItemRow};
use crate::error::Result;
use crate::profile;
use crate::ranking::{self, Candidate, Engagement, Evidence};

/// `lyceum.lxp.v1.FeedService`.
pub(crate) struct FeedApi {
    app: App,
}

impl FeedApi {
    pub fn new(app: App) -> Self {
        Self { app }
    }

    async fn feed(
        &self,
        caller: &Principal,
        req: pb::GetFeedRequest,
    ) -> Result<pb::GetFeedResponse> {
        let person = caller.person()?;
        let page_req = req.page.unwrap_or_default();
        // A ranked list has no stable sort key: the cursor is the offset of the next row.
        let page: Page<usize> = Page::parse(page_req.page_size, &page_req.page_token)?;
        let offset = page.after.unwrap_or(0);

        let mut tx = self.app.store.begin_read().await?;
        let items = catalog::all(&mut tx).await?;
        let evidence = profile::evidence_of(&mut tx, person).await?;
        tx.commit().await?;

        let by_id: HashMap<_, &ItemRow> = items.iter().map(|i| (i.id, i)).collect();
        // Interactions with items not (yet) in the catalogue do not count until they are.
        let engagements: Vec<Engagement<'_>> = evidence
            .iter()
            .filter_map(|(id, e)| {
                by_id.get(id).map(|item| Engagement {
                    item_id: *id,
                    title: &item.title,
                    skills: &item.skills.0,
                    evidence: *e,
                })
            })
            .collect();
        let candidates: Vec<(&ItemRow, Candidate<'_>)> = items
            .iter()
            .filter(|i| evidence.get(&i.id) != Some(&Evidence::Completed))
            .map(|i| {
                (
                    i,
                    Candidate {
                        item_id: i.id,
                        skills: &i.skills.0,
                        popularity: i.popularity.max(0) as u64,
                        published: i.published_micros,
                    },
                )
            })
            .collect();
        let plain: Vec<Candidate<'_>> = candidates.iter().map(|(_, c)| c.clone()).collect();
        let ranked = ranking::rank(&engagements, &plain);

        let window: Vec<(usize, ranking::Ranked)> = ranked
            .into_iter()
            .enumerate()
            .skip(offset)
            .take(page.size as usize + 1)
            .collect();
        let (window, next) = paging::finish(window, page.size, |(position, _)| position + 1);
        let recommendations = window
            .into_iter()
            .map(|(_, r)| pb::Recommendation {
                item: Some(candidates[r.index].0.to_proto()),
                score: r.score,
                matched_skills: r.matched_skills,
                reason: r.reason,
            })
            .collect();
        Ok(pb::GetFeedResponse {
            recommendations,
            page: Some(PageResponse {
                next_page_token: next,
            }),
            profile: ranking::profile(&engagements).into_iter().collect(),
        })
    }
}

#[tonic::async_trait]
impl pb::feed_service_server::FeedService for FeedApi {
    async fn get_feed(
        &self,
        req: Request<pb::GetFeedRequest>,
    ) -> Result<Response<pb::GetFeedResponse>, Status> {
        let caller = GrpcAuth::principal(&req)?;
        Ok(Response::new(self.feed(&caller, req.into_inner()).await?))
    }
}
